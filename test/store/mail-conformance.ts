/**
 * The e-mail part of the store conformance suite: link tokens (single use under concurrency,
 * voiding, expiry, what a reset and an address change do in their transaction) and the durable
 * mail queue (leases never shared between workers, retries, giving up, erasing sent messages).
 * Run by `runStoreConformance` for every store, across sibling stores where the dialect allows.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/errors.js';
import type { LinkKind, SessionRecord, Store, UserRecord } from '../../src/store/types.js';

export interface MailConformanceHelpers {
  open(): Promise<Store>;
  openMany(count: number): Promise<Store[]>;
  addUser(store: Store, overrides?: Partial<{ email: string; now: number }>): Promise<UserRecord>;
  addSession(store: Store, user: UserRecord): Promise<SessionRecord>;
}

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;

const mail = (kind = 'reset_password', now = T0) => ({ id: `mail-${randomUUID()}`, kind, sealed: `sealed.${randomUUID()}`, now });
const link = (userId: string, kind: LinkKind, overrides: Partial<{ now: number; expiresAt: number; newEmail: string }> = {}) => ({
  mac: `mac-${randomUUID()}`,
  userId,
  kind,
  now: overrides.now ?? T0,
  expiresAt: overrides.expiresAt ?? (overrides.now ?? T0) + 15 * MINUTE,
  newEmail: overrides.newEmail ?? null,
});

export function runMailConformance(name: string, { open, openMany, addUser, addSession }: MailConformanceHelpers): void {
  describe(`${name}: links`, () => {
    it('a reset link is used once: it revokes every session, sets the hash, marks the address verified, and is refused afterwards', async () => {
      const store = await open();
      const user = await addUser(store);
      expect(user.emailVerifiedAt).toBeNull();
      const sessions = [await addSession(store, user), await addSession(store, user)];
      const reset = link(user.id, 'reset');
      expect(await store.issueLink(reset, mail(), { type: 'password_reset_requested', at: T0, userId: user.id })).toBe('issued');
      expect(await store.mailQueueCounts()).toMatchObject({ queued: 1 });

      const done = await store.resetPassword(reset.mac, 'new-hash', T0 + MINUTE);
      expect(done?.revokedSessions).toBe(2);
      expect(done?.user).toMatchObject({
        id: user.id,
        passwordHash: 'new-hash',
        emailVerifiedAt: T0 + MINUTE,
        credentialGeneration: user.credentialGeneration + 1,
      });
      for (const s of sessions) expect((await store.findSession(s.id))?.revokedReason).toBe('password_reset');
      expect(await store.resetPassword(reset.mac, 'other-hash', T0 + 2 * MINUTE)).toBeUndefined();
      expect((await store.findUserById(user.id))?.passwordHash).toBe('new-hash');
    });

    it('a new reset link voids the older one; an expired link is refused; a link of another kind is refused', async () => {
      const store = await open();
      const user = await addUser(store);
      const first = link(user.id, 'reset');
      const second = link(user.id, 'reset', { now: T0 + 1 });
      await store.issueLink(first, mail());
      await store.issueLink(second, mail());
      expect(await store.resetPassword(first.mac, 'h1', T0 + 2)).toBeUndefined();

      const verify = link(user.id, 'verify');
      await store.issueLink(verify, mail('verify_email'));
      expect(await store.resetPassword(verify.mac, 'h2', T0 + 3)).toBeUndefined();
      expect(await store.verifyEmail(second.mac, T0 + 3)).toBeUndefined();

      expect(await store.resetPassword(second.mac, 'h3', second.expiresAt)).toBeUndefined();
      expect((await store.findUserById(user.id))?.passwordHash).toBe(user.passwordHash);
    });

    it('issueLink for a user that is gone writes nothing', async () => {
      const store = await open();
      expect(await store.issueLink(link('no-such-user', 'reset'), mail())).toBe('no_user');
      expect(await store.mailQueueCounts()).toEqual({ queued: 0, sending: 0, sent: 0, dead: 0 });
    });

    it('a cap of 3 links per kind in 15 min holds under 12 concurrent requests; other kinds and later windows are not affected', async () => {
      const stores = await openMany(4);
      const user = await addUser(stores[0]!);
      const cap = { max: 3, windowMs: 15 * MINUTE };
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, i) => stores[i % stores.length]!.issueLink(link(user.id, 'reset'), mail(), undefined, cap)),
      );
      expect(outcomes.filter((o) => o === 'issued')).toHaveLength(3);
      expect(outcomes.filter((o) => o === 'capped')).toHaveLength(9);
      expect((await stores[0]!.mailQueueCounts()).queued).toBe(3);
      expect(await stores[0]!.issueLink(link(user.id, 'verify'), mail('verify_email'), undefined, cap)).toBe('issued');
      expect(await stores[0]!.issueLink(link(user.id, 'reset', { now: T0 + 15 * MINUTE }), mail(), undefined, cap)).toBe('issued');
    });

    it('20 concurrent uses of one reset link: exactly one succeeds', async () => {
      const stores = await openMany(4);
      const user = await addUser(stores[0]!);
      const reset = link(user.id, 'reset');
      await stores[0]!.issueLink(reset, mail());
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.resetPassword(reset.mac, `hash-${i}`, T0 + 1)),
      );
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      expect((await stores[0]!.findUserById(user.id))?.passwordHash).toBe(winners[0]!.user.passwordHash);
    });

    it('20 concurrent uses of one verification link: exactly one succeeds, and it uses up every verification link of the user', async () => {
      const stores = await openMany(4);
      const user = await addUser(stores[0]!);
      const a = link(user.id, 'verify');
      await stores[0]!.issueLink(a, mail('verify_email'));
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.verifyEmail(a.mac, T0 + 1)));
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect((await stores[0]!.findUserById(user.id))?.emailVerifiedAt).toBe(T0 + 1);
    });

    it('a password change voids outstanding reset and address-change links', async () => {
      const store = await open();
      const user = await addUser(store);
      const reset = link(user.id, 'reset');
      const change = link(user.id, 'email_change', { newEmail: `new-${randomUUID()}@example.test` });
      await store.issueLink(reset, mail());
      await store.issueLink(change, mail('email_change_confirm'));
      await store.changePassword(user.id, 'changed', null, T0 + 1);
      expect(await store.resetPassword(reset.mac, 'x', T0 + 2)).toBeUndefined();
      expect(await store.verifyEmail(change.mac, T0 + 2)).toBeUndefined();
    });

    it('an address-change link switches the address and verifies it; the old address’s links stop working', async () => {
      const store = await open();
      const user = await addUser(store);
      const newEmail = `new-${randomUUID()}@example.test`;
      const oldVerify = link(user.id, 'verify');
      const reset = link(user.id, 'reset');
      await store.issueLink(oldVerify, mail('verify_email'));
      await store.issueLink(reset, mail());
      const change = link(user.id, 'email_change', { newEmail });
      await store.issueLink(change, mail('email_change_confirm'));
      const done = await store.verifyEmail(change.mac, T0 + 5);
      expect(done).toMatchObject({ kind: 'email_change', previousEmail: user.email, user: { email: newEmail, emailVerifiedAt: T0 + 5 } });
      expect(await store.findUserByEmail(newEmail)).toMatchObject({ id: user.id });
      expect(await store.findUserByEmail(user.email)).toBeUndefined();
      expect(await store.verifyEmail(oldVerify.mac, T0 + 6)).toBeUndefined();
      expect(await store.resetPassword(reset.mac, 'x', T0 + 6)).toBeUndefined();
    });

    it('an address-change link to an address taken meanwhile: EMAIL_TAKEN, nothing written, the link still usable once the address is free', async () => {
      const store = await open();
      const user = await addUser(store);
      const target = `taken-${randomUUID()}@example.test`;
      const change = link(user.id, 'email_change', { newEmail: target });
      await store.issueLink(change, mail('email_change_confirm'));
      const squatter = await addUser(store, { email: target });
      await expect(store.verifyEmail(change.mac, T0 + 1)).rejects.toSatisfy((e) => e instanceof ApiError && e.code === 'EMAIL_TAKEN');
      expect((await store.findUserById(user.id))?.email).toBe(user.email);
      expect(squatter.email).toBe(target);
    });
  });

  describe(`${name}: mail queue`, () => {
    it('claims due mail once; sent mail loses its message; failures retry later or give up', async () => {
      const store = await open();
      const a = mail('a');
      const b = mail('b', T0 + 10 * MINUTE);
      await store.enqueueMail(a);
      await store.enqueueMail(b);

      const claimed = await store.claimMail('w1', T0 + 1, MINUTE, 10);
      expect(claimed).toEqual([{ id: a.id, kind: 'a', sealed: a.sealed, attempts: 1, createdAt: T0 }]);
      // Held: nobody else gets it while the lease lasts.
      expect(await store.claimMail('w2', T0 + 2, MINUTE, 10)).toEqual([]);
      // Only the holder may release it.
      expect(await store.mailFailed(a.id, 'w2', T0 + 5_000, 'ECONNREFUSED')).toBe(false);
      expect(await store.mailFailed(a.id, 'w1', T0 + 5_000, 'ECONNREFUSED')).toBe(true);
      expect(await store.claimMail('w2', T0 + 4_999, MINUTE, 10)).toEqual([]);
      const retried = await store.claimMail('w2', T0 + 5_000, MINUTE, 10);
      expect(retried.map((m) => [m.id, m.attempts])).toEqual([[a.id, 2]]);
      expect(await store.mailSent(a.id, 'w1', T0 + 5_001)).toBe(false);
      expect(await store.mailSent(a.id, 'w2', T0 + 5_001)).toBe(true);
      expect(await store.mailQueueCounts()).toEqual({ queued: 1, sending: 0, sent: 1, dead: 0 });

      const late = await store.claimMail('w1', T0 + 10 * MINUTE, MINUTE, 10);
      expect(late.map((m) => m.id)).toEqual([b.id]);
      expect(await store.mailFailed(b.id, 'w1', null, 'gave up after 72 h')).toBe(true);
      expect(await store.mailQueueCounts()).toEqual({ queued: 0, sending: 0, sent: 1, dead: 1 });
      expect(await store.claimMail('w1', T0 + 100 * MINUTE, MINUTE, 10)).toEqual([]);
    });

    it('an early claim (dueBy) takes mail waiting out its backoff, never a mail another worker holds', async () => {
      const store = await open();
      const held = mail();
      const waiting = mail();
      await store.enqueueMail(held);
      await store.enqueueMail(waiting);
      expect(await store.claimMail('w1', T0, MINUTE, 1)).toHaveLength(1);
      const [other] = await store.claimMail('w1', T0, MINUTE, 1);
      await store.mailFailed(other!.id, 'w1', T0 + 5 * MINUTE, 'ECONNECTION');
      const early = await store.claimMail('w2', T0 + 1, MINUTE, 10, { dueBy: T0 + 10 * MINUTE });
      expect(early.map((m) => m.id)).toEqual([other!.id]);
      expect(await store.expediteMail(T0 + 2)).toBe(0);
    });

    it('a mail whose worker died (lease expired) is claimed again', async () => {
      const store = await open();
      const m = mail();
      await store.enqueueMail(m);
      expect(await store.claimMail('dead-worker', T0, MINUTE, 10)).toHaveLength(1);
      expect(await store.claimMail('w2', T0 + MINUTE - 1, MINUTE, 10)).toEqual([]);
      expect((await store.claimMail('w2', T0 + MINUTE, MINUTE, 10)).map((c) => [c.id, c.attempts])).toEqual([[m.id, 2]]);
      // The dead worker's late report changes nothing.
      expect(await store.mailSent(m.id, 'dead-worker', T0 + MINUTE + 1)).toBe(false);
    });

    it('workers claiming concurrently from several stores never share a mail', async () => {
      const stores = await openMany(4);
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const m = mail();
        ids.add(m.id);
        await stores[0]!.enqueueMail(m);
      }
      // Rounds of 16 concurrent claims until the queue is empty: every mail exactly once.
      const all: string[] = [];
      for (let round = 0; round < 10 && all.length < ids.size; round++) {
        const claims = await Promise.all(
          Array.from({ length: 16 }, (_, i) => stores[i % stores.length]!.claimMail(`w${round}-${i}`, T0 + 1, MINUTE, 5)),
        );
        all.push(...claims.flat().map((c) => c.id));
      }
      expect(all).toHaveLength(40);
      expect(new Set(all)).toEqual(ids);
    });
  });
}
