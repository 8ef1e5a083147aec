/**
 * The conformance suite every {@link Store} must pass, races included.
 *
 *   runStoreConformance('sqlite', makeStore, { openSibling })
 *
 * `makeStore()` must return a store on a fresh, empty database each call (the suite calls
 * `migrate()` and `close()` itself). `openSibling(store)`, when given, opens another store
 * with its own connections on the same database as `store`; the race tests then spread their
 * calls over several instances, as several server processes would.
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ApiError, LatchkeyError, StoreUnavailableError } from '../../src/errors.js';
import type { Rotation, SessionRecord, SigningKeyRecord, Store, UserRecord } from '../../src/store/types.js';
import { runMailConformance } from './mail-conformance.js';
import { runMfaConformance } from './mfa-conformance.js';
import { runAdminConformance, type TableDump } from './admin-conformance.js';
import { runWebhookConformance } from './webhook-conformance.js';
import { runIdentityConformance } from './identity-conformance.js';

export interface ConformanceOptions {
  /** Opens an independent store (own connection or pool) on the same database as `store`. */
  openSibling?: (store: Store) => Promise<Store>;
  /** Reads every table of the store's database, listed from the catalogue (see admin-conformance.ts). */
  dumpTables?: (store: Store) => Promise<TableDump>;
}

/** A realistic epoch-ms clock value, well above 2^31, to catch int4/bigint mistakes. */
const T0 = 1_700_000_000_000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

type NewKey = Omit<SigningKeyRecord, 'state' | 'retiredAt' | 'expiresAt'>;

function newKey(createdAt = T0, kid = `kid-${randomUUID()}`): NewKey {
  return {
    kid,
    alg: 'ES256',
    publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid }),
    privateKeySealed: `sealed.${randomUUID()}`,
    createdAt,
  };
}

/** A rotation of `id` at `expectedCounter`, with the audit row the auth service writes. */
function rotation(id: string, expectedCounter: number, now: number, idleExpiresAt: number): Rotation {
  return { id, expectedCounter, now, idleExpiresAt, audit: { type: 'refresh', ip: '203.0.113.9' } };
}

/** The login audit row the auth service writes with a session. */
const LOGIN = { type: 'login_success', ip: '203.0.113.7' } as const;

export function runStoreConformance(name: string, makeStore: () => Promise<Store>, options: ConformanceOptions = {}): void {
  /** A fresh, migrated store, closed when the test ends. */
  async function open(): Promise<Store> {
    const store = await makeStore();
    onTestFinished(() => store.close());
    await store.migrate();
    return store;
  }

  /** `count` stores on one database: the first plus siblings when the dialect allows. */
  async function openMany(count: number): Promise<Store[]> {
    const first = await open();
    const stores = [first];
    for (let i = 1; i < count; i++) {
      if (!options.openSibling) {
        stores.push(first);
        continue;
      }
      const sibling = await options.openSibling(first);
      onTestFinished(() => sibling.close());
      stores.push(sibling);
    }
    return stores;
  }

  async function addUser(store: Store, overrides: Partial<{ email: string; role: string; now: number }> = {}) {
    const id = `user-${randomUUID()}`;
    return store.createUser({
      id,
      email: overrides.email ?? `${id}@example.test`,
      passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$${randomUUID()}`,
      role: overrides.role ?? 'user',
      now: overrides.now ?? T0,
    });
  }

  async function addSession(
    store: Store,
    user: UserRecord,
    overrides: Partial<{ now: number; idleExpiresAt: number; absoluteExpiresAt: number }> = {},
  ): Promise<SessionRecord> {
    const now = overrides.now ?? T0;
    // The generation as it is now (earlier steps of a test may have advanced it).
    const current = await store.findUserById(user.id);
    const session = await store.createSession(
      {
        id: `sess-${randomUUID()}`,
        userId: user.id,
        credentialGeneration: current?.credentialGeneration ?? 0,
        now,
        idleExpiresAt: overrides.idleExpiresAt ?? now + 7 * DAY,
        absoluteExpiresAt: overrides.absoluteExpiresAt ?? now + 30 * DAY,
        userAgent: 'vitest',
        ip: '203.0.113.7',
      },
      LOGIN,
    );
    if (!session) throw new Error('addSession: the store refused the session');
    return session;
  }

  runMailConformance(name, { open, openMany, addUser, addSession: (store, user) => addSession(store, user) });
  runMfaConformance(name, { open, openMany, addUser: (store) => addUser(store) });
  runAdminConformance(name, {
    open,
    openMany,
    addUser,
    addSession: (store, user) => addSession(store, user),
    ...(options.dumpTables ? { dumpTables: options.dumpTables } : {}),
  });
  runWebhookConformance(name, { open, openMany, addUser: (store) => addUser(store), addSession: (store, user) => addSession(store, user) });
  runIdentityConformance(name, { open, openMany, addUser: (store) => addUser(store) });

  describe(`${name}: lifecycle`, () => {
    it('reports its dialect, migrates idempotently and answers ping', async () => {
      const store = await open();
      expect(['sqlite', 'postgres']).toContain(store.dialect);
      await store.migrate();
      await store.migrate();
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('close() is idempotent, and a closed store throws StoreUnavailableError', async () => {
      const store = await makeStore();
      await store.migrate();
      await store.close();
      await store.close();
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.findUserById('x')).rejects.toBeInstanceOf(StoreUnavailableError);
    });
  });

  describe(`${name}: users`, () => {
    it('creates a user and finds it by id and by e-mail, times as numbers', async () => {
      const store = await open();
      const created = await store.createUser({
        id: 'u1',
        email: 'alice@example.test',
        passwordHash: 'hash-1',
        role: 'admin',
        now: T0,
      });
      const expected: UserRecord = {
        id: 'u1',
        email: 'alice@example.test',
        passwordHash: 'hash-1',
        role: 'admin',
        createdAt: T0,
        updatedAt: T0,
        credentialGeneration: 0,
        emailVerifiedAt: null,
        disabledAt: null,
      };
      expect(created).toEqual(expected);
      expect(await store.findUserById('u1')).toEqual(expected);
      expect(await store.findUserByEmail('alice@example.test')).toEqual(expected);
      expect(typeof (await store.findUserById('u1'))?.createdAt).toBe('number');
    });

    it('returns undefined for unknown users', async () => {
      const store = await open();
      expect(await store.findUserById('nobody')).toBeUndefined();
      expect(await store.findUserByEmail('nobody@example.test')).toBeUndefined();
    });

    it('rejects a duplicate e-mail with ApiError EMAIL_TAKEN and keeps the first user', async () => {
      const store = await open();
      const first = await addUser(store, { email: 'dup@example.test' });
      const attempt = store.createUser({
        id: 'other-id',
        email: 'dup@example.test',
        passwordHash: 'h2',
        role: 'user',
        now: T0 + 1,
      });
      await expect(attempt).rejects.toBeInstanceOf(ApiError);
      await expect(attempt).rejects.toMatchObject({ code: 'EMAIL_TAKEN', status: 409 });
      expect(await store.findUserByEmail('dup@example.test')).toEqual(first);
      expect(await store.findUserById('other-id')).toBeUndefined();
    });

    it('a duplicate id is not reported as EMAIL_TAKEN', async () => {
      const store = await open();
      const first = await addUser(store);
      const attempt = store.createUser({ ...first, email: 'fresh@example.test', now: T0 });
      await expect(attempt).rejects.toBeInstanceOf(LatchkeyError);
      await expect(attempt).rejects.not.toBeInstanceOf(ApiError);
    });

    it('updates the role and updatedAt; false for an unknown user', async () => {
      const store = await open();
      const user = await addUser(store);
      expect(await store.updateUserRole(user.id, 'admin', T0 + 5)).toBe(true);
      expect(await store.findUserById(user.id)).toMatchObject({ role: 'admin', createdAt: T0, updatedAt: T0 + 5 });
      expect(await store.updateUserRole('nobody', 'admin', T0 + 5)).toBe(false);
    });

    it('updates the password hash only; false for an unknown user', async () => {
      const store = await open();
      const user = await addUser(store);
      const session = await addSession(store, user);
      expect(await store.updatePasswordHash(user.id, 0, 'new-hash', T0 + 7)).toBe(true);
      expect(await store.findUserById(user.id)).toMatchObject({
        passwordHash: 'new-hash',
        role: user.role,
        updatedAt: T0 + 7,
        credentialGeneration: 0,
      });
      expect((await store.findSession(session.id))?.revokedAt).toBeNull();
      expect(await store.updatePasswordHash('nobody', 0, 'x', T0)).toBe(false);
    });

    it('lists ids and addresses in id order, page by page; updateUserEmail changes only the row still holding the old address', async () => {
      const store = await open();
      for (const id of ['u-c', 'u-a', 'u-b']) await store.createUser({ id, email: `${id}@example.test`, passwordHash: 'h', role: 'user', now: T0 });
      expect(await store.listUserEmails({ limit: 2 })).toEqual([
        { id: 'u-a', email: 'u-a@example.test' },
        { id: 'u-b', email: 'u-b@example.test' },
      ]);
      expect(await store.listUserEmails({ afterId: 'u-b', limit: 2 })).toEqual([{ id: 'u-c', email: 'u-c@example.test' }]);
      expect(await store.listUserEmails({ afterId: 'u-c', limit: 2 })).toEqual([]);
      expect(await store.updateUserEmail('u-a', 'u-a@example.test', 'renamed@example.test', T0 + 3)).toBe(true);
      expect(await store.findUserById('u-a')).toMatchObject({ email: 'renamed@example.test', updatedAt: T0 + 3 });
      expect(await store.updateUserEmail('u-a', 'u-a@example.test', 'again@example.test', T0 + 4)).toBe(false);
      await expect(store.updateUserEmail('u-b', 'u-b@example.test', 'u-c@example.test', T0 + 5)).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });
      expect(await store.findUserById('u-b')).toMatchObject({ email: 'u-b@example.test' });
    });

    it('updatePasswordHash (a rehash on login) never overwrites a password changed after it was read', async () => {
      const store = await open();
      const user = await addUser(store);
      expect(user.credentialGeneration).toBe(0);
      await store.changePassword(user.id, 'changed-hash', null, T0 + 5);
      expect(await store.updatePasswordHash(user.id, user.credentialGeneration, 'rehash-of-the-old-password', T0 + 6)).toBe(false);
      expect(await store.findUserById(user.id)).toMatchObject({ passwordHash: 'changed-hash', credentialGeneration: 1 });
    });

    it('errors never carry SQL parameters (password hashes)', async () => {
      const store = await open();
      const marker = 'SECRET-HASH-MARKER-d41d8cd9';
      let caught: unknown;
      try {
        // NOT NULL violation: PostgreSQL's `detail` would echo the whole row, hash included.
        await store.createUser({ id: 'u-x', email: null as unknown as string, passwordHash: marker, role: 'user', now: T0 });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(LatchkeyError);
      const text = `${inspect(caught, { depth: 10 })} ${JSON.stringify(caught)} ${String((caught as Error).stack)}`;
      expect(text).not.toContain(marker);
    });
  });

  describe(`${name}: sessions`, () => {
    it('creates a session at counter 0 and finds it', async () => {
      const store = await open();
      const user = await addUser(store);
      const created = await store.createSession(
        {
          id: 's1',
          userId: user.id,
          credentialGeneration: 0,
          now: T0,
          idleExpiresAt: T0 + 7 * DAY,
          absoluteExpiresAt: T0 + 30 * DAY,
          userAgent: 'Firefox',
          ip: '2001:db8::1',
        },
        LOGIN,
      );
      const expected: SessionRecord = {
        id: 's1',
        userId: user.id,
        counter: 0,
        rotatedAt: null,
        createdAt: T0,
        lastUsedAt: T0,
        idleExpiresAt: T0 + 7 * DAY,
        absoluteExpiresAt: T0 + 30 * DAY,
        revokedAt: null,
        revokedReason: null,
        userAgent: 'Firefox',
        ip: '2001:db8::1',
        dpopJkt: null,
        // No authentication context given: a password sign-in at the session's time.
        amr: ['pwd'],
        acr: 'aal1',
        authTime: T0,
      };
      expect(created).toEqual(expected);
      // Its audit row was written with it: the session's time, user, id; the given type and ip.
      expect(await store.listAudit()).toEqual([
        { id: expect.any(Number), type: 'login_success', at: T0, userId: user.id, actorId: null, sessionId: 's1', ip: '203.0.113.7', detail: null },
      ]);
      expect(await store.findSession('s1')).toEqual(expected);
      expect(await store.findSession('nope')).toBeUndefined();
      expect(await store.findSessionWithUser('s1')).toEqual({ session: expected, user: await store.findUserById(user.id) });
      expect(await store.findSessionWithUser('nope')).toBeUndefined();
    });

    it('keeps how a session was authenticated (amr, acr, auth_time) through rotations', async () => {
      const store = await open();
      const user = await addUser(store);
      const authentication = { amr: ['pwd', 'otp'], acr: 'aal2', authTime: T0 - 1234 };
      const created = await store.createSession(
        {
          id: 'aal2-session',
          userId: user.id,
          credentialGeneration: 0,
          now: T0,
          idleExpiresAt: T0 + DAY,
          absoluteExpiresAt: T0 + 30 * DAY,
          userAgent: null,
          ip: null,
          authentication,
        },
        { type: 'login_success', ip: null, detail: { method: 'totp' } },
      );
      expect(created).toMatchObject(authentication);
      const first = await store.rotateSession(rotation('aal2-session', 0, T0 + MINUTE, T0 + DAY));
      expect(first.ok && first.session).toMatchObject({ ...authentication, counter: 1 });
      const second = await store.rotateSession(rotation('aal2-session', 1, T0 + 2 * MINUTE, T0 + DAY));
      expect(second.ok && second.session).toMatchObject({ ...authentication, counter: 2 });
      expect(await store.findSession('aal2-session')).toMatchObject(authentication);
      expect((await store.findSessionWithUser('aal2-session'))?.session).toMatchObject(authentication);
      expect((await store.listActiveSessions(user.id, T0 + 3 * MINUTE))[0]).toMatchObject(authentication);
      expect((await store.listAudit()).at(0)).toMatchObject({ type: 'login_success', detail: { method: 'totp' } });
    });

    it('keeps the DPoP key thumbprint a session is bound to, through rotation and revocation', async () => {
      const store = await open();
      const user = await addUser(store);
      const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
      const base = {
        userId: user.id,
        credentialGeneration: 0,
        now: T0,
        idleExpiresAt: T0 + DAY,
        absoluteExpiresAt: T0 + 2 * DAY,
        userAgent: null,
        ip: null,
      };
      expect(await store.createSession({ ...base, id: 's-dpop', dpopJkt: jkt }, LOGIN)).toMatchObject({ dpopJkt: jkt });
      expect((await store.findSession('s-dpop'))?.dpopJkt).toBe(jkt);
      expect((await store.findSessionWithUser('s-dpop'))?.session.dpopJkt).toBe(jkt);
      // A bound session rotates only for a refresh that proved its key; the row is handed back otherwise.
      const unproved = await store.rotateSession(rotation('s-dpop', 0, T0 + 1000, T0 + DAY));
      expect(unproved).toMatchObject({ ok: false, found: { session: { counter: 0, dpopJkt: jkt } } });
      const otherKey = await store.rotateSession({ ...rotation('s-dpop', 0, T0 + 1000, T0 + DAY), proofJkt: 'another-key-thumbprint' });
      expect(otherKey).toMatchObject({ ok: false, found: { session: { counter: 0 } } });
      const rotated = await store.rotateSession({ ...rotation('s-dpop', 0, T0 + 1000, T0 + DAY), proofJkt: jkt });
      expect(rotated).toMatchObject({ ok: true, session: { counter: 1, dpopJkt: jkt } });
      await store.revokeSession('s-dpop', 'logout', T0 + 2000);
      expect((await store.findSession('s-dpop'))?.dpopJkt).toBe(jkt);
      expect((await store.createSession({ ...base, id: 's-bearer' }, LOGIN))?.dpopJkt).toBeNull();
      // An unbound session rotates with or without a proof.
      expect((await store.rotateSession({ ...rotation('s-bearer', 0, T0 + 1000, T0 + DAY), proofJkt: jkt })).ok).toBe(true);
      expect((await store.rotateSession(rotation('s-bearer', 1, T0 + 2000, T0 + DAY))).ok).toBe(true);
    });

    it('keeps null user agent and ip', async () => {
      const store = await open();
      const user = await addUser(store);
      const s = await store.createSession(
        {
          id: 's-null',
          userId: user.id,
          credentialGeneration: 0,
          now: T0,
          idleExpiresAt: T0 + DAY,
          absoluteExpiresAt: T0 + 2 * DAY,
          userAgent: null,
          ip: null,
        },
        LOGIN,
      );
      expect(s).toMatchObject({ userAgent: null, ip: null });
      expect(await store.findSession('s-null')).toMatchObject({ userAgent: null, ip: null });
    });

    it('creates no session for an unknown user', async () => {
      const store = await open();
      const orphan = await store.createSession(
        {
          id: 's-orphan',
          userId: 'no-such-user',
          credentialGeneration: 0,
          now: T0,
          idleExpiresAt: T0 + DAY,
          absoluteExpiresAt: T0 + DAY,
          userAgent: null,
          ip: null,
        },
        LOGIN,
      );
      expect(orphan).toBeUndefined();
      expect(await store.findSession('s-orphan')).toBeUndefined();
      // Nothing half-written: no audit row without its session.
      expect(await store.listAudit()).toEqual([]);
    });

    it('creates no session on credentials replaced or sessions ended after they were read', async () => {
      const store = await open();
      const user = await addUser(store);
      const attempt = (id: string, credentialGeneration: number) =>
        store.createSession(
          { id, userId: user.id, credentialGeneration, now: T0, idleExpiresAt: T0 + DAY, absoluteExpiresAt: T0 + DAY, userAgent: null, ip: null },
          LOGIN,
        );
      const read = (await store.findUserById(user.id))!;
      await store.changePassword(user.id, 'new-hash', null, T0 + 1);
      expect(await attempt('after-change', read.credentialGeneration)).toBeUndefined();
      const reread = (await store.findUserById(user.id))!;
      expect(reread.credentialGeneration).toBe(read.credentialGeneration + 1);
      expect(await store.revokeUserSessions(user.id, 'logout_all', T0 + 2)).toBe(0);
      expect(await attempt('after-logout-all', reread.credentialGeneration)).toBeUndefined();
      const fresh = (await store.findUserById(user.id))!;
      expect(fresh.credentialGeneration).toBe(read.credentialGeneration + 2);
      expect(await attempt('current', fresh.credentialGeneration)).toMatchObject({ id: 'current', revokedAt: null });
      expect((await store.findSessionWithUser('current'))?.user.credentialGeneration).toBe(fresh.credentialGeneration);
      expect(await store.findSession('after-change')).toBeUndefined();
      expect(await store.findSession('after-logout-all')).toBeUndefined();
      expect((await store.listAudit()).map((e) => e.sessionId)).toEqual(['current']);
    });

    it('rotateSession is a compare-and-swap on the counter', async () => {
      const store = await open();
      const user = await addUser(store);
      const session = await addSession(store, user);

      const first = await store.rotateSession(rotation(session.id, 0, T0 + MINUTE, T0 + MINUTE + 7 * DAY));
      const rotated: SessionRecord = {
        ...session,
        counter: 1,
        rotatedAt: T0 + MINUTE,
        lastUsedAt: T0 + MINUTE,
        idleExpiresAt: T0 + MINUTE + 7 * DAY,
      };
      // The rotated row comes back with its user (whose role the new access token carries).
      expect(first).toEqual({ ok: true, session: rotated, user });

      // A stale counter: no change, and the caller gets a fresh read with the user.
      const stale = await store.rotateSession(rotation(session.id, 0, T0 + 2 * MINUTE, T0 + 9 * DAY));
      expect(stale).toEqual({ ok: false, found: { session: rotated, user } });
      expect(await store.findSession(session.id)).toEqual(rotated);

      // A counter from the future does not match either.
      expect((await store.rotateSession(rotation(session.id, 5, T0 + 2 * MINUTE, T0 + 9 * DAY))).ok).toBe(false);

      const second = await store.rotateSession(rotation(session.id, 1, T0 + 3 * MINUTE, T0 + 3 * MINUTE + 7 * DAY));
      if (!second.ok) throw new Error('second rotation failed');
      expect(second.session).toMatchObject({ counter: 2, rotatedAt: T0 + 3 * MINUTE, createdAt: T0 });
      expect(second.session.absoluteExpiresAt).toBe(session.absoluteExpiresAt);
    });

    it('rotateSession fails on unknown and revoked sessions', async () => {
      const store = await open();
      expect(await store.rotateSession(rotation('missing', 0, T0, T0 + DAY))).toEqual({ ok: false, found: undefined });
      const user = await addUser(store);
      const session = await addSession(store, user);
      await store.revokeSession(session.id, 'logout', T0 + 1);
      const result = await store.rotateSession(rotation(session.id, 0, T0 + 2, T0 + DAY));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.found?.session).toMatchObject({ counter: 0, revokedAt: T0 + 1, revokedReason: 'logout' });
    });

    it('rotateSession refuses a session past its idle or absolute expiry, to the millisecond', async () => {
      const store = await open();
      const user = await addUser(store);
      const idle = await addSession(store, user, { idleExpiresAt: T0 + MINUTE, absoluteExpiresAt: T0 + DAY });
      const absolute = await addSession(store, user, { idleExpiresAt: T0 + DAY, absoluteExpiresAt: T0 + MINUTE });
      for (const session of [idle, absolute]) {
        expect(await store.rotateSession(rotation(session.id, 0, T0 + MINUTE, T0 + 2 * DAY))).toEqual({ ok: false, found: { session, user } });
        expect((await store.rotateSession(rotation(session.id, 0, T0 + MINUTE - 1, T0 + 2 * DAY))).ok).toBe(true);
      }
    });

    it('a rotation and its audit row are one write: a row per success, none per failure', async () => {
      const store = await open();
      const user = await addUser(store);
      const session = await addSession(store, user);
      const before = (await store.listAudit()).length;
      expect((await store.rotateSession(rotation(session.id, 0, T0 + 1, T0 + DAY))).ok).toBe(true);
      // Failures of every kind write nothing: stale counter, unknown session, revoked session.
      expect((await store.rotateSession(rotation(session.id, 0, T0 + 2, T0 + DAY))).ok).toBe(false);
      expect((await store.rotateSession(rotation('missing', 0, T0 + 2, T0 + DAY))).ok).toBe(false);
      await store.revokeSession(session.id, 'logout', T0 + 3);
      expect((await store.rotateSession(rotation(session.id, 1, T0 + 4, T0 + DAY))).ok).toBe(false);
      const events = (await store.listAudit()).slice(before);
      expect(events).toEqual([
        {
          id: expect.any(Number),
          type: 'refresh',
          at: T0 + 1,
          userId: user.id,
          actorId: null,
          sessionId: session.id,
          ip: '203.0.113.9',
          detail: null,
        },
      ]);
      const withDetail = await addSession(store, user);
      await store.rotateSession({ ...rotation(withDetail.id, 0, T0 + 5, T0 + DAY), audit: { type: 'refresh', ip: null, detail: { via: 'test' } } });
      expect((await store.listAudit()).at(-1)).toMatchObject({ type: 'refresh', ip: null, sessionId: withDetail.id, detail: { via: 'test' } });
    });

    it('revokeSession is idempotent and keeps the first reason and time', async () => {
      const store = await open();
      const user = await addUser(store);
      const session = await addSession(store, user);
      expect(await store.revokeSession(session.id, 'logout', T0 + 10)).toBe(true);
      expect(await store.revokeSession(session.id, 'reuse', T0 + 20)).toBe(false);
      expect(await store.findSession(session.id)).toMatchObject({ revokedAt: T0 + 10, revokedReason: 'logout' });
      expect(await store.revokeSession('missing', 'logout', T0)).toBe(false);
    });

    it('revokeUserSessions revokes the live sessions of one user, except one when asked', async () => {
      const store = await open();
      const alice = await addUser(store);
      const bob = await addUser(store);
      const [a1, a2, a3, a4] = [
        await addSession(store, alice),
        await addSession(store, alice),
        await addSession(store, alice),
        await addSession(store, alice),
      ];
      const b1 = await addSession(store, bob);
      await store.revokeSession(a4!.id, 'logout', T0 + 1);

      expect(await store.revokeUserSessions(alice.id, 'logout_all', T0 + 5, a1!.id)).toBe(2);
      expect(await store.findSession(a1!.id)).toMatchObject({ revokedAt: null });
      expect(await store.findSession(a2!.id)).toMatchObject({ revokedAt: T0 + 5, revokedReason: 'logout_all' });
      expect(await store.findSession(a3!.id)).toMatchObject({ revokedAt: T0 + 5, revokedReason: 'logout_all' });
      expect(await store.findSession(a4!.id)).toMatchObject({ revokedAt: T0 + 1, revokedReason: 'logout' });
      expect(await store.findSession(b1.id)).toMatchObject({ revokedAt: null });

      // Not-yet-revoked sessions count as live even once expired: they are revoked too.
      const expired = await addSession(store, alice, { now: T0, idleExpiresAt: T0 + 1, absoluteExpiresAt: T0 + 2 });
      expect(await store.revokeUserSessions(alice.id, 'admin', T0 + 9)).toBe(2);
      expect(await store.findSession(a1!.id)).toMatchObject({ revokedAt: T0 + 9, revokedReason: 'admin' });
      expect(await store.findSession(expired.id)).toMatchObject({ revokedAt: T0 + 9, revokedReason: 'admin' });
      expect(await store.revokeUserSessions(alice.id, 'admin', T0 + 10)).toBe(0);
      expect(await store.revokeUserSessions('nobody', 'admin', T0 + 10)).toBe(0);
    });

    it('listActiveSessions excludes revoked, expired and foreign sessions, newest first', async () => {
      const store = await open();
      const user = await addUser(store);
      const other = await addUser(store);
      const now = T0 + 10 * DAY;
      const live = { idleExpiresAt: now + DAY, absoluteExpiresAt: now + 2 * DAY };
      const oldest = await addSession(store, user, { now: T0 + 1 * DAY, ...live });
      const middle = await addSession(store, user, { now: T0 + 2 * DAY, ...live });
      const newest = await addSession(store, user, { now: T0 + 3 * DAY, ...live });
      const revoked = await addSession(store, user, { now: T0 + 4 * DAY, ...live });
      await store.revokeSession(revoked.id, 'logout', T0 + 5 * DAY);
      await addSession(store, user, { now: T0, idleExpiresAt: now - 1 }); // idle-expired
      await addSession(store, user, { now: T0, absoluteExpiresAt: now - 1, idleExpiresAt: now + DAY }); // absolute
      await addSession(store, user, { now: T0, idleExpiresAt: now }); // expires exactly now
      await addSession(store, other, { now: T0 + 6 * DAY, ...live });

      const active = await store.listActiveSessions(user.id, now);
      expect(active.map((s) => s.id)).toEqual([newest.id, middle.id, oldest.id]);
      expect(active[0]).toEqual(newest);
      expect(await store.listActiveSessions('nobody', now)).toEqual([]);
    });

    it('purgeSessions deletes sessions revoked or expired before the cutoff', async () => {
      const store = await open();
      const user = await addUser(store);
      const cutoff = T0 + 10 * DAY;
      const fresh = { now: T0, idleExpiresAt: cutoff + DAY, absoluteExpiresAt: cutoff + 2 * DAY };
      const live = await addSession(store, user, fresh);
      const revokedEarly = await addSession(store, user, fresh);
      await store.revokeSession(revokedEarly.id, 'logout', cutoff - 1);
      const revokedLate = await addSession(store, user, fresh);
      await store.revokeSession(revokedLate.id, 'logout', cutoff + 1);
      const idleExpired = await addSession(store, user, { ...fresh, idleExpiresAt: cutoff - 1 });
      const absExpired = await addSession(store, user, { now: T0, idleExpiresAt: cutoff + DAY, absoluteExpiresAt: cutoff - 1 });
      const expiresLater = await addSession(store, user, { ...fresh, idleExpiresAt: cutoff + 1 });

      expect(await store.purgeSessions(cutoff)).toBe(3);
      expect(await store.findSession(revokedEarly.id)).toBeUndefined();
      expect(await store.findSession(idleExpired.id)).toBeUndefined();
      expect(await store.findSession(absExpired.id)).toBeUndefined();
      expect(await store.findSession(live.id)).toBeDefined();
      expect(await store.findSession(revokedLate.id)).toBeDefined();
      expect(await store.findSession(expiresLater.id)).toBeDefined();
      expect(await store.purgeSessions(cutoff)).toBe(0);
    });
  });

  describe(`${name}: changePassword`, () => {
    it('sets the hash and revokes every other live session in one step', async () => {
      const store = await open();
      const user = await addUser(store);
      const other = await addUser(store);
      const keep = await addSession(store, user);
      const s2 = await addSession(store, user);
      const s3 = await addSession(store, user);
      const loggedOut = await addSession(store, user);
      await store.revokeSession(loggedOut.id, 'logout', T0 + 1);
      const foreign = await addSession(store, other);

      expect(await store.changePassword(user.id, 'new-hash', keep.id, T0 + 100)).toBe(2);
      expect(await store.findUserById(user.id)).toMatchObject({ passwordHash: 'new-hash', updatedAt: T0 + 100 });
      expect(await store.findSession(keep.id)).toMatchObject({ revokedAt: null });
      expect(await store.findSession(s2.id)).toMatchObject({ revokedAt: T0 + 100, revokedReason: 'password_change' });
      expect(await store.findSession(s3.id)).toMatchObject({ revokedAt: T0 + 100, revokedReason: 'password_change' });
      expect(await store.findSession(loggedOut.id)).toMatchObject({ revokedAt: T0 + 1, revokedReason: 'logout' });
      expect(await store.findSession(foreign.id)).toMatchObject({ revokedAt: null });
    });

    it('revokes every session when keepSessionId is null', async () => {
      const store = await open();
      const user = await addUser(store);
      const s1 = await addSession(store, user);
      const s2 = await addSession(store, user);
      expect(await store.changePassword(user.id, 'h', null, T0 + 5)).toBe(2);
      expect(await store.listActiveSessions(user.id, T0 + 6)).toEqual([]);
      expect((await store.findSession(s1.id))?.revokedReason).toBe('password_change');
      expect((await store.findSession(s2.id))?.revokedReason).toBe('password_change');
    });

    it('is atomic: when the hash cannot be written, no session is revoked', async () => {
      const store = await open();
      const user = await addUser(store);
      const s1 = await addSession(store, user);
      const s2 = await addSession(store, user);
      // A NULL hash violates NOT NULL inside the transaction (which also revokes sessions).
      await expect(store.changePassword(user.id, null as unknown as string, s1.id, T0 + 5)).rejects.toBeInstanceOf(LatchkeyError);
      expect(await store.findSession(s2.id)).toMatchObject({ revokedAt: null });
      expect(await store.findUserById(user.id)).toEqual(user);
      // …and the store is still usable afterwards (no transaction left open).
      expect(await store.changePassword(user.id, 'ok', s1.id, T0 + 6)).toBe(1);
    });

    it('returns 0 for an unknown user', async () => {
      const store = await open();
      expect(await store.changePassword('nobody', 'h', null, T0)).toBe(0);
    });
  });

  describe(`${name}: signing keys`, () => {
    it('insertFirstSigningKey inserts only when no key is current', async () => {
      const store = await open();
      expect(await store.listSigningKeys(T0)).toEqual([]);
      const k1 = newKey(T0, 'k1');
      const first = await store.insertFirstSigningKey(k1);
      expect(first).toEqual({ ...k1, state: 'current', retiredAt: null, expiresAt: null });
      const again = await store.insertFirstSigningKey(newKey(T0 + 1, 'k2'));
      expect(again).toEqual(first);
      expect(await store.listSigningKeys(T0 + 2)).toEqual([first]);
    });

    it('rotateSigningKey retires the current key with expiresAt and inserts the new one', async () => {
      const store = await open();
      const k1 = await store.insertFirstSigningKey(newKey(T0, 'k1'));
      const k2 = newKey(T0 + DAY, 'k2');
      await store.rotateSigningKey(k2, T0 + DAY, T0 + DAY + 15 * MINUTE);

      const keys = await store.listSigningKeys(T0 + DAY);
      expect(keys).toHaveLength(2);
      expect(keys.find((k) => k.kid === 'k2')).toEqual({ ...k2, state: 'current', retiredAt: null, expiresAt: null });
      expect(keys.find((k) => k.kid === 'k1')).toEqual({
        ...k1,
        state: 'retired',
        retiredAt: T0 + DAY,
        expiresAt: T0 + DAY + 15 * MINUTE,
      });
      expect(keys.filter((k) => k.state === 'current')).toHaveLength(1);

      // A further rotation keeps the earlier retirement untouched.
      await store.rotateSigningKey(newKey(T0 + 2 * DAY, 'k3'), T0 + DAY + MINUTE, T0 + DAY + 20 * MINUTE);
      const later = await store.listSigningKeys(T0 + DAY + MINUTE);
      expect(later.map((k) => [k.kid, k.state]).sort()).toEqual([
        ['k1', 'retired'],
        ['k2', 'retired'],
        ['k3', 'current'],
      ]);
      expect(later.find((k) => k.kid === 'k1')?.expiresAt).toBe(T0 + DAY + 15 * MINUTE);
    });

    it('rotateSigningKey with no current key just inserts it', async () => {
      const store = await open();
      const k = newKey(T0, 'only');
      await store.rotateSigningKey(k, T0, T0 + MINUTE);
      expect(await store.listSigningKeys(T0)).toEqual([{ ...k, state: 'current', retiredAt: null, expiresAt: null }]);
    });

    it('insertNextSigningKey inserts only when no key is next; next keys are listed', async () => {
      const store = await open();
      const current = await store.insertFirstSigningKey(newKey(T0, 'cur'));
      const n1 = newKey(T0 + 1, 'n1');
      const next = await store.insertNextSigningKey(n1);
      expect(next).toEqual({ ...n1, state: 'next', retiredAt: null, expiresAt: null });
      expect(await store.insertNextSigningKey(newKey(T0 + 2, 'n2'))).toEqual(next);
      expect((await store.listSigningKeys(T0 + 3)).map((k) => [k.kid, k.state]).sort()).toEqual([
        ['cur', 'current'],
        ['n1', 'next'],
      ]);
      expect(current.state).toBe('current');
    });

    it('rotateSigningKey promotes the next key, retires the current one and inserts the new key as next', async () => {
      const store = await open();
      await store.insertFirstSigningKey(newKey(T0, 'k1'));
      await store.insertNextSigningKey(newKey(T0, 'k2'));
      const k3 = newKey(T0 + DAY, 'k3');
      await store.rotateSigningKey(k3, T0 + DAY, T0 + DAY + MINUTE);
      const keys = await store.listSigningKeys(T0 + DAY);
      expect(keys.map((k) => [k.kid, k.state]).sort()).toEqual([
        ['k1', 'retired'],
        ['k2', 'current'],
        ['k3', 'next'],
      ]);
      expect(keys.find((k) => k.kid === 'k2')).toMatchObject({ retiredAt: null, expiresAt: null });
      expect(keys.find((k) => k.kid === 'k1')).toMatchObject({ retiredAt: T0 + DAY, expiresAt: T0 + DAY + MINUTE });
    });

    it('listSigningKeys drops retired keys once expired (expiresAt <= now)', async () => {
      const store = await open();
      await store.insertFirstSigningKey(newKey(T0, 'old'));
      await store.rotateSigningKey(newKey(T0 + 10, 'new'), T0 + 10, T0 + 1_000);
      expect((await store.listSigningKeys(T0 + 999)).map((k) => k.kid).sort()).toEqual(['new', 'old']);
      expect((await store.listSigningKeys(T0 + 1_000)).map((k) => k.kid)).toEqual(['new']);
      expect((await store.listSigningKeys(T0 + 5_000)).map((k) => k.kid)).toEqual(['new']);
    });
  });

  describe(`${name}: audit`, () => {
    it('appends events and lists them oldest first with parsed detail', async () => {
      const store = await open();
      await store.appendAudit({ type: 'login', at: T0, userId: 'u1', sessionId: 's1', ip: '198.51.100.1', detail: { ua: 'x', n: 2 } });
      await store.appendAudit({ type: 'logout', at: T0 + 1 });
      const events = await store.listAudit();
      expect(events).toHaveLength(2);
      expect(events[0]).toEqual({
        id: expect.any(Number),
        type: 'login',
        at: T0,
        userId: 'u1',
        actorId: null,
        sessionId: 's1',
        ip: '198.51.100.1',
        detail: { ua: 'x', n: 2 },
      });
      expect(events[1]).toMatchObject({ type: 'logout', at: T0 + 1, userId: null, sessionId: null, ip: null, detail: null });
      expect(events[1]!.id).toBeGreaterThan(events[0]!.id);
    });

    it('tails with afterId and pages with limit', async () => {
      const store = await open();
      for (let i = 0; i < 10; i++) await store.appendAudit({ type: `e${i}`, at: T0 + i });
      const all = await store.listAudit();
      expect(all.map((e) => e.type)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']);

      const after = await store.listAudit({ afterId: all[6]!.id });
      expect(after.map((e) => e.type)).toEqual(['e7', 'e8', 'e9']);
      expect(await store.listAudit({ afterId: all[9]!.id })).toEqual([]);

      const page = await store.listAudit({ afterId: all[1]!.id, limit: 3 });
      expect(page.map((e) => e.type)).toEqual(['e2', 'e3', 'e4']);
      expect((await store.listAudit({ afterId: 0, limit: 2 })).map((e) => e.type)).toEqual(['e0', 'e1']);

      // Without a cursor, `limit` gives the latest events, still newest last.
      expect((await store.listAudit({ limit: 3 })).map((e) => e.type)).toEqual(['e7', 'e8', 'e9']);
    });

    it('purgeAudit deletes events before the cutoff only, and counts them', async () => {
      const store = await open();
      for (let i = 0; i < 6; i++) await store.appendAudit({ type: `e${i}`, at: T0 + i * DAY });
      expect(await store.purgeAudit(T0 + 3 * DAY)).toBe(3);
      expect((await store.listAudit()).map((e) => e.type)).toEqual(['e3', 'e4', 'e5']);
      expect(await store.purgeAudit(T0 + 3 * DAY)).toBe(0);
      await store.appendAudit({ type: 'later', at: T0 + 10 * DAY });
      expect((await store.listAudit()).map((e) => e.type)).toEqual(['e3', 'e4', 'e5', 'later']);
    });
  });

  describe(`${name}: races`, () => {
    it('50 createSession calls on credentials read before a concurrent changePassword: none is live afterwards', async () => {
      const stores = await openMany(3);
      const user = await addUser(stores[0]!);
      const keep = await addSession(stores[0]!, user);
      const read = (await stores[1]!.findUserById(user.id))!;
      const logins = Array.from({ length: 50 }, (_, i) =>
        stores[i % stores.length]!.createSession(
          {
            id: `racing-${i}`,
            userId: user.id,
            credentialGeneration: read.credentialGeneration,
            now: T0 + i,
            idleExpiresAt: T0 + DAY,
            absoluteExpiresAt: T0 + DAY,
            userAgent: null,
            ip: null,
          },
          LOGIN,
        ),
      );
      const change = stores[2]!.changePassword(user.id, 'new-hash', keep.id, T0 + 25);
      const [created, revoked] = await Promise.all([Promise.all(logins), change]);
      // Each insert either came first (and the change revoked it) or came second (and inserted nothing).
      expect(created.filter(Boolean)).toHaveLength(revoked);
      expect((await stores[0]!.listActiveSessions(user.id, T0 + 30)).map((s) => s.id)).toEqual([keep.id]);
      // A login audit row for exactly the sessions that were created.
      const logged = (await stores[0]!.listAudit({ limit: 1000 })).filter((e) => e.type === 'login_success' && e.sessionId?.startsWith('racing-'));
      expect(logged).toHaveLength(created.filter(Boolean).length);
    });

    it('25 concurrent rotateSession(id, 0) → exactly one succeeds, with exactly one audit row', async () => {
      const stores = await openMany(3);
      const user = await addUser(stores[0]!);
      const session = await addSession(stores[0]!, user);
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) => stores[i % stores.length]!.rotateSession(rotation(session.id, 0, T0 + i, T0 + DAY + i))),
      );
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      for (const loser of results) {
        if (!loser.ok) expect(loser.found?.session.counter).toBe(1);
      }
      expect(await stores[1]!.findSession(session.id)).toEqual(winners[0]!.session);
      expect((await stores[0]!.listAudit()).filter((e) => e.type === 'refresh' && e.sessionId === session.id)).toHaveLength(1);
    });

    it('concurrent chains of rotations never lose an update', async () => {
      const stores = await openMany(2);
      const user = await addUser(stores[0]!);
      const session = await addSession(stores[0]!, user);
      let successes = 0;
      // Each worker reads the counter, then tries the CAS; the sum of wins is the final counter.
      await Promise.all(
        stores.flatMap((store) =>
          Array.from({ length: 4 }, async () => {
            for (let i = 0; i < 10; i++) {
              const current = await store.findSession(session.id);
              const result = await store.rotateSession(rotation(session.id, current!.counter, T0 + i, T0 + DAY));
              if (result.ok) successes++;
            }
          }),
        ),
      );
      expect((await stores[0]!.findSession(session.id))?.counter).toBe(successes);
      expect(successes).toBeGreaterThan(0);
      const audited = (await stores[0]!.listAudit({ limit: 1000 })).filter((e) => e.type === 'refresh' && e.sessionId === session.id);
      expect(audited).toHaveLength(successes);
    });

    it('revoke racing rotations: the session ends revoked and no rotation succeeds after the revoke', async () => {
      const [a, b] = await openMany(2);
      const user = await addUser(a!);
      const session = await addSession(a!, user);
      let revokeDone = false;
      let rotatedAfterRevoke = 0;
      let rotations = 0;

      const rotator = (async () => {
        let counter = 0;
        for (let i = 0; i < 200; i++) {
          const startedAfterRevoke = revokeDone;
          const result = await a!.rotateSession(rotation(session.id, counter, T0 + i, T0 + DAY));
          if (!result.ok) {
            expect(result.found?.session.revokedAt).not.toBeNull();
            return;
          }
          rotations++;
          counter = result.session.counter;
          if (startedAfterRevoke) rotatedAfterRevoke++;
        }
      })();
      const revoker = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(await b!.revokeSession(session.id, 'logout', T0 + 50)).toBe(true);
        revokeDone = true;
      })();
      await Promise.all([rotator, revoker]);

      expect(rotatedAfterRevoke).toBe(0);
      const final = await b!.findSession(session.id);
      expect(final).toMatchObject({ revokedAt: T0 + 50, revokedReason: 'logout', counter: rotations });
      // Any attempt now, from either instance and with any counter, fails.
      const late = await Promise.all([a!, b!].flatMap((s) => [s.rotateSession(rotation(session.id, rotations, T0 + 99, T0 + DAY))]));
      expect(late.every((r) => !r.ok)).toBe(true);
    });

    it('revoke and rotate fired together: every session ends revoked', async () => {
      const [a, b] = await openMany(2);
      const user = await addUser(a!);
      const sessions = await Promise.all(Array.from({ length: 15 }, () => addSession(a!, user)));
      const outcomes = await Promise.all(
        sessions.map(async (s, i) => {
          const [rotated, revoked] = await Promise.all([
            (i % 2 ? a! : b!).rotateSession(rotation(s.id, 0, T0 + 1, T0 + DAY)),
            (i % 2 ? b! : a!).revokeSession(s.id, 'revoked', T0 + 2),
          ]);
          return { rotated, revoked };
        }),
      );
      for (const [i, { rotated, revoked }] of outcomes.entries()) {
        expect(revoked).toBe(true);
        const final = await a!.findSession(sessions[i]!.id);
        expect(final?.revokedAt).toBe(T0 + 2);
        // A successful rotation saw a live row; a failed one saw the revocation.
        if (rotated.ok) expect(rotated.session.revokedAt).toBeNull();
        else expect(rotated.found?.session.revokedAt).toBe(T0 + 2);
        expect(final?.counter).toBe(rotated.ok ? 1 : 0);
      }
    });

    it('10 concurrent insertFirstSigningKey → exactly one current key, returned to every caller', async () => {
      const stores = await openMany(3);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % stores.length]!.insertFirstSigningKey(newKey(T0 + i))));
      const kids = new Set(results.map((k) => k.kid));
      expect(kids.size).toBe(1);
      const keys = await stores[0]!.listSigningKeys(T0 + 100);
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({ kid: [...kids][0], state: 'current' });
    });

    it('10 concurrent insertNextSigningKey → exactly one next key, returned to every caller', async () => {
      const stores = await openMany(3);
      await stores[0]!.insertFirstSigningKey(newKey(T0, 'cur'));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => stores[i % stores.length]!.insertNextSigningKey(newKey(T0 + i, `n${i}`))),
      );
      expect(new Set(results.map((k) => k.kid)).size).toBe(1);
      const keys = await stores[1]!.listSigningKeys(T0 + 100);
      expect(keys.filter((k) => k.state === 'next')).toHaveLength(1);
      expect(keys.filter((k) => k.state === 'current')).toHaveLength(1);
    });

    it('concurrent rotations with a next key leave exactly one current and one next key', async () => {
      const stores = await openMany(3);
      await stores[0]!.insertFirstSigningKey(newKey(T0, 'k0'));
      await stores[0]!.insertNextSigningKey(newKey(T0, 'n0'));
      await Promise.all(
        Array.from({ length: 6 }, (_, i) => stores[i % stores.length]!.rotateSigningKey(newKey(T0 + i + 1, `k${i + 1}`), T0 + 10, T0 + DAY)),
      );
      const keys = await stores[1]!.listSigningKeys(T0 + 20);
      expect(keys).toHaveLength(8);
      expect(keys.filter((k) => k.state === 'current')).toHaveLength(1);
      expect(keys.filter((k) => k.state === 'next')).toHaveLength(1);
      expect(keys.filter((k) => k.state === 'retired')).toHaveLength(6);
    });

    it('concurrent rotateSigningKey calls all succeed and leave exactly one current key', async () => {
      const stores = await openMany(3);
      await stores[0]!.insertFirstSigningKey(newKey(T0, 'k0'));
      await Promise.all(
        Array.from({ length: 6 }, (_, i) => stores[i % stores.length]!.rotateSigningKey(newKey(T0 + i + 1, `k${i + 1}`), T0 + 10, T0 + DAY)),
      );
      const keys = await stores[1]!.listSigningKeys(T0 + 20);
      expect(keys).toHaveLength(7);
      expect(keys.filter((k) => k.state === 'current')).toHaveLength(1);
      for (const retired of keys.filter((k) => k.state === 'retired')) {
        expect(retired).toMatchObject({ retiredAt: T0 + 10, expiresAt: T0 + DAY });
      }
    });

    it('concurrent e-mail registrations: one user, the rest EMAIL_TAKEN', async () => {
      const stores = await openMany(2);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          stores[i % stores.length]!.createUser({
            id: `racer-${i}`,
            email: 'race@example.test',
            passwordHash: 'h',
            role: 'user',
            now: T0,
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'EMAIL_TAKEN' });
      }
    });
  });
}
