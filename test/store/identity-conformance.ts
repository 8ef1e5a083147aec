/**
 * The external-identity part of the store conformance suite (docs/oidc.md): an account created
 * with its identity in one transaction (no password, the address verified only when the provider
 * said so), one identity per provider subject, unlinking that never removes the last way to sign
 * in, and the races: callbacks for one address over several stores leave one account, two
 * unlinks of the last two identities leave one. Run by `runStoreConformance` for every store.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Store, UserRecord } from '../../src/store/types.js';

export interface IdentityConformanceHelpers {
  open(): Promise<Store>;
  openMany(count: number): Promise<Store[]>;
  addUser(store: Store): Promise<UserRecord>;
}

const T0 = 1_700_000_000_000;
const LINKED = { type: 'identity_linked', at: T0, detail: { provider: 'acme' } };

const newUser = (email: string, emailVerified: boolean) => ({
  id: `user-${randomUUID()}`,
  email,
  passwordHash: 'ignored',
  role: 'user',
  now: T0,
  emailVerified,
});
const newIdentity = (subject: string, provider = 'acme', email: string | null = null) => ({
  id: `idn-${randomUUID()}`,
  provider,
  subject,
  email,
  now: T0,
});

async function auditTypes(store: Store, userId: string): Promise<string[]> {
  return (await store.listAudit({ limit: 100 })).filter((e) => e.userId === userId).map((e) => e.type);
}

export function runIdentityConformance(name: string, { open, openMany, addUser }: IdentityConformanceHelpers): void {
  describe(`${name}: external identities`, () => {
    it('creates an account without a password together with its identity, verified only when the provider said so', async () => {
      const store = await open();
      const created = await store.createFederatedUser(newUser('fed@example.test', true), newIdentity('sub-1', 'acme', 'fed@example.test'), LINKED);
      if (typeof created === 'string') throw new Error(created);
      expect(created.user).toMatchObject({ email: 'fed@example.test', passwordHash: '', emailVerifiedAt: T0, role: 'user', credentialGeneration: 0 });
      expect(created.identity).toEqual({
        id: created.identity.id,
        userId: created.user.id,
        provider: 'acme',
        subject: 'sub-1',
        email: 'fed@example.test',
        createdAt: T0,
      });
      expect(await store.findIdentity('acme', 'sub-1')).toEqual(created.identity);
      expect(await store.findIdentity('other', 'sub-1')).toBeUndefined();
      expect(await store.listIdentities(created.user.id)).toEqual([created.identity]);
      expect(await auditTypes(store, created.user.id)).toEqual(['identity_linked']);

      const unverified = await store.createFederatedUser(newUser('unverified@example.test', false), newIdentity('sub-2'), LINKED);
      if (typeof unverified === 'string') throw new Error(unverified);
      expect(unverified.user).toMatchObject({ passwordHash: '', emailVerifiedAt: null });
    });

    it('writes nothing when the address has an account (email_taken) or the subject is linked (identity_taken)', async () => {
      const store = await open();
      const existing = await addUser(store);
      const first = newUser('taken@example.test', true);
      expect(await store.createFederatedUser({ ...first, email: existing.email }, newIdentity('sub-a'), LINKED)).toBe('email_taken');
      expect(await store.findIdentity('acme', 'sub-a')).toBeUndefined();
      expect(await store.findUserById(first.id)).toBeUndefined();

      expect(typeof (await store.createFederatedUser(first, newIdentity('sub-b'), LINKED))).toBe('object');
      const second = newUser('second@example.test', true);
      expect(await store.createFederatedUser(second, newIdentity('sub-b'), LINKED)).toBe('identity_taken');
      expect(await store.findUserById(second.id)).toBeUndefined();
      expect(await store.findUserByEmail('second@example.test')).toBeUndefined();
    });

    it('links one subject per provider to one account; the same subject at another provider is another identity', async () => {
      const store = await open();
      const alice = await addUser(store);
      const bob = await addUser(store);
      const linked = await store.linkIdentity({ ...newIdentity('shared'), userId: alice.id }, { ...LINKED, userId: alice.id });
      expect(linked).toMatchObject({ userId: alice.id, provider: 'acme', subject: 'shared' });
      expect(await store.linkIdentity({ ...newIdentity('shared'), userId: bob.id }, { ...LINKED, userId: bob.id })).toBe('taken');
      expect(await store.linkIdentity({ ...newIdentity('shared'), userId: alice.id }, { ...LINKED, userId: alice.id })).toBe('taken');
      expect(await store.linkIdentity({ ...newIdentity('shared', 'github'), userId: bob.id }, { ...LINKED, userId: bob.id })).toMatchObject({
        userId: bob.id,
        provider: 'github',
      });
      expect(await store.listIdentities(bob.id)).toHaveLength(1);
      expect(await auditTypes(store, bob.id)).toEqual(['identity_linked']);
    });

    it('unlinks anything but the last way to sign in: a password or another identity must remain', async () => {
      const store = await open();
      const created = await store.createFederatedUser(newUser('only@example.test', true), newIdentity('only-1'), LINKED);
      if (typeof created === 'string') throw new Error(created);
      const { user, identity } = created;
      const unlinked = { type: 'identity_unlinked', at: T0, userId: user.id, detail: { provider: 'acme' } };
      expect(await store.unlinkIdentity(user.id, identity.id, unlinked)).toBe('last_method');
      expect(await store.listIdentities(user.id)).toHaveLength(1);

      const second = await store.linkIdentity({ ...newIdentity('only-2', 'github'), userId: user.id }, { ...LINKED, userId: user.id });
      if (second === 'taken') throw new Error('taken');
      expect(await store.unlinkIdentity(user.id, identity.id, unlinked)).toBe('unlinked');
      expect(await store.unlinkIdentity(user.id, identity.id, unlinked)).toBe('not_found');
      expect(await store.unlinkIdentity(user.id, second.id, unlinked)).toBe('last_method');
      expect(await auditTypes(store, user.id)).toEqual(['identity_linked', 'identity_linked', 'identity_unlinked']);

      // With a password set (a reset link), the last identity may go.
      expect(await store.updatePasswordHash(user.id, 0, '$argon2id$v=19$m=19456,t=2,p=1$new', T0 + 1)).toBe(true);
      expect(await store.unlinkIdentity(user.id, second.id, unlinked)).toBe('unlinked');
      expect(await store.listIdentities(user.id)).toEqual([]);

      // Another user's identity is not found.
      const other = await addUser(store);
      const theirs = await store.linkIdentity({ ...newIdentity('theirs'), userId: other.id }, { ...LINKED, userId: other.id });
      if (theirs === 'taken') throw new Error('taken');
      expect(await store.unlinkIdentity(user.id, theirs.id, unlinked)).toBe('not_found');
      expect(await store.listIdentities(other.id)).toHaveLength(1);
    });

    it('a passkey is a way to sign in: with one, the last identity may go', async () => {
      const store = await open();
      const created = await store.createFederatedUser(newUser('passkey@example.test', true), newIdentity('pk-1'), LINKED);
      if (typeof created === 'string') throw new Error(created);
      const { user, identity } = created;
      const unlinked = { type: 'identity_unlinked', at: T0, userId: user.id };
      expect(await store.unlinkIdentity(user.id, identity.id, unlinked)).toBe('last_method');
      const passkey = {
        id: `pk-${randomUUID()}`,
        userId: user.id,
        credentialId: `cred-${randomUUID()}`,
        publicKey: 'pQECAyYgASFYIA',
        counter: 0,
        userHandle: 'handle-1',
        transports: ['internal'],
        deviceType: 'singleDevice' as const,
        backedUp: false,
        name: 'Passkey',
        createdAt: T0,
      };
      expect(await store.insertPasskey(passkey, { type: 'passkey_registered', at: T0, userId: user.id })).toBe('saved');
      expect(await store.unlinkIdentity(user.id, identity.id, unlinked)).toBe('unlinked');
    });

    it('8 callbacks racing to create an account for one address over 4 stores leave exactly one account', async () => {
      const stores = await openMany(4);
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          stores[i % stores.length]!.createFederatedUser(
            newUser('race@example.test', true),
            newIdentity(i % 2 === 0 ? 'same-sub' : `sub-${i}`),
            LINKED,
          ),
        ),
      );
      const created = outcomes.filter((o) => typeof o === 'object');
      expect(created).toHaveLength(1);
      expect(outcomes.filter((o) => typeof o === 'string').every((o) => o === 'email_taken' || o === 'identity_taken')).toBe(true);
      const user = await stores[0]!.findUserByEmail('race@example.test');
      expect(user?.id).toBe((created[0] as { user: UserRecord }).user.id);
      expect(await stores[0]!.listIdentities(user!.id)).toHaveLength(1);
    });

    it('a sign-in flow is claimed once: 8 claims racing over 4 stores, one wins; expired claims are forgotten', async () => {
      const stores = await openMany(4);
      const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 4]!.claimOAuthFlow('flow-1', T0 + 600_000, T0)));
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      expect(await stores[0]!.claimOAuthFlow('flow-1', T0 + 600_000, T0 + 1)).toBe(false);
      expect(await stores[0]!.claimOAuthFlow('flow-2', T0 + 600_000, T0 + 1)).toBe(true);
      // Once the cookie could no longer be presented, the row goes (a later claim of its id is new).
      expect(await stores[0]!.claimOAuthFlow('flow-3', T0 + 601_000, T0 + 600_001)).toBe(true);
      expect(await stores[0]!.claimOAuthFlow('flow-1', T0 + 1_200_000, T0 + 600_001)).toBe(true);
    });

    it('two unlinks racing for the last two identities of an account without a password: one wins, one is refused', async () => {
      const stores = await openMany(2);
      const created = await stores[0]!.createFederatedUser(newUser('two@example.test', true), newIdentity('two-1'), LINKED);
      if (typeof created === 'string') throw new Error(created);
      const { user } = created;
      const second = await stores[0]!.linkIdentity({ ...newIdentity('two-2', 'github'), userId: user.id }, { ...LINKED, userId: user.id });
      if (second === 'taken') throw new Error('taken');
      const audit = { type: 'identity_unlinked', at: T0, userId: user.id };
      const outcomes = await Promise.all([
        stores[0]!.unlinkIdentity(user.id, created.identity.id, audit),
        stores[1]!.unlinkIdentity(user.id, second.id, audit),
      ]);
      expect(outcomes.sort()).toEqual(['last_method', 'unlinked']);
      expect(await stores[0]!.listIdentities(user.id)).toHaveLength(1);
    });
  });
}
