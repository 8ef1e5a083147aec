/**
 * The second-factor part of the store conformance suite: TOTP enrolments (pending replaced,
 * confirmed kept), the per-account time step accepted once (conditional UPDATEs, raced across
 * sibling stores), recovery codes used once, the mfa token's attempt cap under concurrency, and
 * `completeMfa` writing both or neither; passkeys (a WebAuthn challenge consumed once, raced
 * across sibling stores; a sign counter that only moves forward, also on the second step; a
 * credential id registered once). Run by `runStoreConformance` for every store.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { NewPasskey, Store, UserRecord, WebauthnChallengeRecord } from '../../src/store/types.js';

export interface MfaConformanceHelpers {
  open(): Promise<Store>;
  openMany(count: number): Promise<Store[]>;
  addUser(store: Store): Promise<UserRecord>;
}

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;
const audit = (userId: string, type = 'mfa_enrolled') => ({ type, at: T0, userId, detail: { factor: 'totp' } });

async function confirmedUser(store: Store, addUser: (store: Store) => Promise<UserRecord>, codes: string[] = []) {
  const user = await addUser(store);
  expect(await store.saveTotpEnrollment({ id: `totp-${randomUUID()}`, userId: user.id, secretSealed: 'v1.sealed', now: T0 })).toBe('saved');
  expect(await store.confirmTotp(user.id, 100, T0, codes, audit(user.id))).toBe(true);
  return user;
}

const passkey = (userId: string, overrides: Partial<NewPasskey> = {}): NewPasskey => ({
  id: `pk-${randomUUID()}`,
  userId,
  credentialId: `cred-${randomUUID()}`,
  publicKey: 'pQECAyYgASFYIA',
  counter: 0,
  userHandle: 'handle-1',
  transports: ['internal', 'hybrid'],
  deviceType: 'singleDevice',
  backedUp: false,
  name: 'Passkey',
  createdAt: T0,
  ...overrides,
});

const challenge = (overrides: Partial<WebauthnChallengeRecord> = {}): WebauthnChallengeRecord => ({
  challenge: `ch-${randomUUID()}`,
  kind: 'login',
  userId: null,
  mfaTokenMac: null,
  userHandle: null,
  createdAt: T0,
  expiresAt: T0 + 5 * MINUTE,
  ...overrides,
});

const token = (userId: string, overrides: Partial<{ mac: string; expiresAt: number }> = {}) => ({
  mac: overrides.mac ?? `mac-${randomUUID()}`,
  userId,
  amr: ['pwd'],
  credentialGeneration: 0,
  dpopJkt: null,
  now: T0,
  expiresAt: overrides.expiresAt ?? T0 + 5 * MINUTE,
});

export function runMfaConformance(name: string, { open, openMany, addUser }: MfaConformanceHelpers): void {
  describe(`${name}: second factors`, () => {
    it('a pending enrolment is replaced by a new one; a confirmed one is kept (enrolled); listFactors shows confirmed ones only', async () => {
      const store = await open();
      const user = await addUser(store);
      expect(await store.listFactors(user.id)).toEqual([]);
      expect(await store.saveTotpEnrollment({ id: 'first', userId: user.id, secretSealed: 'v1.a', now: T0 })).toBe('saved');
      expect(await store.saveTotpEnrollment({ id: 'second', userId: user.id, secretSealed: 'v1.b', now: T0 + 1 })).toBe('saved');
      expect(await store.findTotpFactor(user.id)).toEqual({
        id: 'second',
        userId: user.id,
        secretSealed: 'v1.b',
        createdAt: T0 + 1,
        confirmedAt: null,
        lastStep: null,
        lastUsedAt: null,
      });
      expect(await store.listFactors(user.id)).toEqual([]);
      expect(await store.confirmTotp(user.id, 50, T0 + 2, ['r1', 'r2'], audit(user.id))).toBe(true);
      expect(await store.confirmTotp(user.id, 51, T0 + 3, ['r3'], audit(user.id))).toBe(false);
      expect(await store.saveTotpEnrollment({ id: 'third', userId: user.id, secretSealed: 'v1.c', now: T0 + 4 })).toBe('enrolled');
      expect(await store.findTotpFactor(user.id)).toMatchObject({ id: 'second', secretSealed: 'v1.b', confirmedAt: T0 + 2, lastStep: 50 });
      expect(await store.listFactors(user.id)).toEqual([{ id: 'second', type: 'totp', createdAt: T0 + 1, lastUsedAt: T0 + 2 }]);
      expect(await store.countRecoveryCodes(user.id)).toBe(2);
      expect((await store.listAudit()).filter((e) => e.type === 'mfa_enrolled')).toHaveLength(1);
      expect(await store.saveTotpEnrollment({ id: 'x', userId: 'nobody', secretSealed: 'v1.d', now: T0 })).toBe('no_user');
    });

    it('completeMfa accepts a time step once and never an earlier one; a refused step leaves the token usable', async () => {
      const store = await open();
      const user = await confirmedUser(store, addUser);
      const t1 = token(user.id);
      await store.createMfaToken(t1);
      expect(await store.completeMfa(t1.mac, user.id, T0, 5, { kind: 'totp', step: 100 })).toBe('code_refused');
      expect(await store.completeMfa(t1.mac, user.id, T0, 5, { kind: 'totp', step: 99 })).toBe('code_refused');
      // Nothing was written: the token is still live.
      expect(await store.findMfaToken(t1.mac, T0, 5)).toMatchObject({ userId: user.id, amr: ['pwd'], attempts: 0, dpopJkt: null });
      expect(await store.completeMfa(t1.mac, user.id, T0, 5, { kind: 'totp', step: 101 })).toBe('ok');
      expect(await store.findMfaToken(t1.mac, T0, 5)).toBeUndefined();
      expect(await store.completeMfa(t1.mac, user.id, T0, 5, { kind: 'totp', step: 102 })).toBe('token_invalid');
      expect((await store.findTotpFactor(user.id))?.lastStep).toBe(101);
      // Another user's token cannot be completed for this user.
      const other = await addUser(store);
      const t2 = token(other.id);
      await store.createMfaToken(t2);
      expect(await store.completeMfa(t2.mac, user.id, T0, 5, { kind: 'totp', step: 103 })).toBe('token_invalid');
    });

    it('recovery codes are used once; an expired token completes nothing', async () => {
      const store = await open();
      const user = await confirmedUser(store, addUser, ['code-a', 'code-b']);
      const expired = token(user.id, { expiresAt: T0 + 10 });
      await store.createMfaToken(expired);
      expect(await store.completeMfa(expired.mac, user.id, T0 + 10, 5, { kind: 'recovery', codeMac: 'code-a' })).toBe('token_invalid');
      expect(await store.countRecoveryCodes(user.id)).toBe(2);
      const live = token(user.id);
      await store.createMfaToken(live);
      expect(await store.completeMfa(live.mac, user.id, T0, 5, { kind: 'recovery', codeMac: 'code-a' })).toBe('ok');
      const next = token(user.id);
      await store.createMfaToken(next);
      expect(await store.completeMfa(next.mac, user.id, T0, 5, { kind: 'recovery', codeMac: 'code-a' })).toBe('code_refused');
      expect(await store.completeMfa(next.mac, user.id, T0, 5, { kind: 'recovery', codeMac: 'unknown' })).toBe('code_refused');
      expect(await store.countRecoveryCodes(user.id)).toBe(1);
      expect(await store.completeMfa(next.mac, user.id, T0, 5, { kind: 'recovery', codeMac: 'code-b' })).toBe('ok');
      expect(await store.countRecoveryCodes(user.id)).toBe(0);
    });

    it('racing stores: one step is accepted by exactly one of 8 tokens; 12 failures count 5 on one token', async () => {
      const stores = await openMany(4);
      const user = await confirmedUser(stores[0]!, addUser);
      const tokens = Array.from({ length: 8 }, () => token(user.id));
      for (const t of tokens) await stores[0]!.createMfaToken(t);
      const outcomes = await Promise.all(tokens.map((t, i) => stores[i % 4]!.completeMfa(t.mac, user.id, T0, 5, { kind: 'totp', step: 200 })));
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'code_refused')).toHaveLength(7);

      const target = tokens.find((_, i) => outcomes[i] === 'code_refused')!;
      const failures = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 4]!.recordMfaFailure(target.mac, T0, 5)));
      expect(failures.filter((f) => f !== undefined).sort()).toEqual([1, 2, 3, 4, 5]);
      expect(await stores[1]!.findMfaToken(target.mac, T0, 5)).toBeUndefined();
      expect(await stores[1]!.completeMfa(target.mac, user.id, T0, 5, { kind: 'totp', step: 201 })).toBe('token_invalid');
    });

    it('racing stores: a recovery code is used once by 6 parallel tokens', async () => {
      const stores = await openMany(3);
      const user = await confirmedUser(stores[0]!, addUser, ['only']);
      const tokens = Array.from({ length: 6 }, () => token(user.id));
      for (const t of tokens) await stores[0]!.createMfaToken(t);
      const outcomes = await Promise.all(
        tokens.map((t, i) => stores[i % 3]!.completeMfa(t.mac, user.id, T0, 5, { kind: 'recovery', codeMac: 'only' })),
      );
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
    });

    it('deleteTotp removes the factor and the recovery codes with its audit row', async () => {
      const store = await open();
      const user = await confirmedUser(store, addUser, ['a', 'b', 'c']);
      expect(await store.deleteTotp(user.id, audit(user.id, 'mfa_removed'))).toBe(true);
      expect(await store.findTotpFactor(user.id)).toBeUndefined();
      expect(await store.countRecoveryCodes(user.id)).toBe(0);
      expect(await store.deleteTotp(user.id, audit(user.id, 'mfa_removed'))).toBe(false);
      expect((await store.listAudit()).filter((e) => e.type === 'mfa_removed')).toHaveLength(1);
    });

    it('a WebAuthn challenge is consumed once, only for its kind and before it expires; a new one prunes the expired', async () => {
      const store = await open();
      const user = await addUser(store);
      const register = challenge({ kind: 'register', userId: user.id, userHandle: 'h' });
      await store.createWebauthnChallenge(register);
      expect(await store.consumeWebauthnChallenge(register.challenge, 'login', T0)).toBeUndefined();
      expect(await store.consumeWebauthnChallenge(register.challenge, 'register', T0 + 1)).toEqual(register);
      expect(await store.consumeWebauthnChallenge(register.challenge, 'register', T0 + 2)).toBeUndefined();
      const late = challenge({ mfaTokenMac: 'mac-1', kind: 'second_factor', userId: user.id });
      await store.createWebauthnChallenge(late);
      expect(await store.consumeWebauthnChallenge(late.challenge, 'second_factor', late.expiresAt)).toBeUndefined();
      // Creating a challenge after the expiry deletes the expired one (nothing to consume any more).
      const pruned = challenge();
      await store.createWebauthnChallenge(pruned);
      await store.createWebauthnChallenge(challenge({ createdAt: pruned.expiresAt, expiresAt: pruned.expiresAt + MINUTE }));
      expect(await store.consumeWebauthnChallenge(pruned.challenge, 'login', T0)).toBeUndefined();
    });

    it('racing stores: of 12 concurrent consumptions of one challenge over 4 stores exactly 1 wins', async () => {
      const stores = await openMany(4);
      for (let round = 0; round < 3; round++) {
        const one = challenge();
        await stores[0]!.createWebauthnChallenge(one);
        const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 4]!.consumeWebauthnChallenge(one.challenge, 'login', T0)));
        expect(outcomes.filter((o) => o !== undefined)).toHaveLength(1);
      }
    });

    it('passkeys: a credential id registered once, listed oldest first, the counter only moves forward (both 0: no check), deleted with its audit row', async () => {
      const store = await open();
      const user = await addUser(store);
      const first = passkey(user.id, { counter: 5 });
      expect(await store.insertPasskey(first, audit(user.id, 'passkey_registered'))).toBe('saved');
      const other = await addUser(store);
      expect(await store.insertPasskey(passkey(other.id, { credentialId: first.credentialId }), audit(other.id, 'passkey_registered'))).toBe(
        'duplicate',
      );
      expect(await store.insertPasskey(passkey('nobody'), audit(user.id, 'passkey_registered'))).toBe('no_user');
      const second = passkey(user.id, { createdAt: T0 + 1, deviceType: 'multiDevice', backedUp: true });
      expect(await store.insertPasskey(second, audit(user.id, 'passkey_registered'))).toBe('saved');
      expect(await store.findPasskeyByCredentialId(first.credentialId)).toEqual({ ...first, lastUsedAt: null });
      expect((await store.listPasskeys(user.id)).map((p) => p.id)).toEqual([first.id, second.id]);
      expect(await store.listPasskeys(other.id)).toEqual([]);
      expect((await store.listFactors(user.id)).map((f) => [f.id, f.type])).toEqual([
        [first.id, 'webauthn'],
        [second.id, 'webauthn'],
      ]);

      const use = (counter: number, id = first.id, userId = user.id) => ({ passkeyId: id, userId, counter, backedUp: false });
      expect(await store.usePasskey(use(5), T0 + 10)).toBe(false);
      expect(await store.usePasskey(use(4), T0 + 10)).toBe(false);
      expect(await store.usePasskey(use(0), T0 + 10)).toBe(false);
      expect(await store.usePasskey(use(6, first.id, other.id), T0 + 10)).toBe(false);
      expect(await store.usePasskey(use(6), T0 + 10)).toBe(true);
      expect(await store.findPasskeyByCredentialId(first.credentialId)).toMatchObject({ counter: 6, lastUsedAt: T0 + 10 });
      expect(await store.usePasskey(use(0, second.id), T0 + 11)).toBe(true);
      expect(await store.usePasskey(use(0, second.id), T0 + 12)).toBe(true);
      expect(await store.findPasskeyByCredentialId(second.credentialId)).toMatchObject({ counter: 0, backedUp: false, lastUsedAt: T0 + 12 });

      expect(await store.deletePasskey(other.id, first.id, audit(other.id, 'passkey_removed'))).toBe(false);
      expect(await store.deletePasskey(user.id, first.id, audit(user.id, 'passkey_removed'))).toBe(true);
      expect(await store.deletePasskey(user.id, first.id, audit(user.id, 'passkey_removed'))).toBe(false);
      expect(await store.findPasskeyByCredentialId(first.credentialId)).toBeUndefined();
      const types = (await store.listAudit()).map((e) => e.type);
      expect(types.filter((t) => t === 'passkey_registered')).toHaveLength(2);
      expect(types.filter((t) => t === 'passkey_removed')).toHaveLength(1);
    });

    it('racing stores: one sign counter is recorded once; on the second step the token and the counter advance together or not at all', async () => {
      const stores = await openMany(4);
      const user = await addUser(stores[0]!);
      const key = passkey(user.id, { counter: 1 });
      await stores[0]!.insertPasskey(key, audit(user.id, 'passkey_registered'));
      const use = { passkeyId: key.id, userId: user.id, counter: 2, backedUp: false };
      const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => stores[i % 4]!.usePasskey(use, T0)));
      expect(outcomes.filter(Boolean)).toHaveLength(1);

      const tokens = Array.from({ length: 8 }, () => token(user.id));
      for (const t of tokens) await stores[0]!.createMfaToken(t);
      const steps = await Promise.all(
        tokens.map((t, i) => stores[i % 4]!.completeMfa(t.mac, user.id, T0, 5, { kind: 'passkey', ...use, counter: 3 })),
      );
      expect(steps.filter((o) => o === 'ok')).toHaveLength(1);
      expect(steps.filter((o) => o === 'code_refused')).toHaveLength(7);
      // The refused tokens were not used up; another account's passkey completes nothing.
      const spare = tokens[steps.indexOf('code_refused')]!;
      expect(await stores[1]!.findMfaToken(spare.mac, T0, 5)).toBeDefined();
      const other = await addUser(stores[0]!);
      expect(await stores[1]!.completeMfa(spare.mac, user.id, T0, 5, { kind: 'passkey', ...use, userId: other.id, counter: 9 })).toBe('code_refused');
      expect((await stores[2]!.findPasskeyByCredentialId(key.credentialId))?.counter).toBe(3);
    });
  });
}
