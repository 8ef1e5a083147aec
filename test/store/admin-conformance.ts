/**
 * The administration part of the store conformance suite: the user list's keyset paging (1,000
 * users in pages of 50 while more are created: none repeated, none dropped), search, an admin's
 * changes with their audit rows, the last-admin rule raced across sibling stores, the deletion of
 * an account checked against every table of the schema, and the audit query. Run by
 * `runStoreConformance` for every store.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SessionRecord, Store, UserCursor, UserRecord } from '../../src/store/types.js';

/** Every row of every table of the store's database, by table name. */
export type TableDump = Record<string, Array<Record<string, unknown>>>;

export interface AdminConformanceHelpers {
  open(): Promise<Store>;
  openMany(count: number): Promise<Store[]>;
  addUser(store: Store, overrides?: Partial<{ email: string; role: string; now: number }>): Promise<UserRecord>;
  addSession(store: Store, user: UserRecord): Promise<SessionRecord>;
  /** Reads every table of the store's database (listed from the catalogue), when the dialect allows it. */
  dumpTables?: (store: Store) => Promise<TableDump>;
}

const T0 = 1_700_000_000_000;
const CLI = { actorId: 'cli', ip: null };

async function pageAll(store: Store, limit: number, query?: string, during?: () => Promise<void>): Promise<UserRecord[]> {
  const seen: UserRecord[] = [];
  let after: UserCursor | undefined;
  for (;;) {
    const page = await store.listUsers({ limit, ...(after ? { after } : {}), ...(query === undefined ? {} : { query }) });
    seen.push(...page);
    await during?.();
    if (page.length < limit) return seen;
    const last = page.at(-1)!;
    after = { createdAt: last.createdAt, id: last.id };
  }
}

export function runAdminConformance(name: string, { open, openMany, addUser, addSession, dumpTables }: AdminConformanceHelpers): void {
  describe(`${name}: administration`, () => {
    it('lists users by creation time then id; search is a case-insensitive substring of the address, or exactly an id', async () => {
      const store = await open();
      const bob = await addUser(store, { email: 'bob@example.test', now: T0 + 2 });
      const alice = await addUser(store, { email: 'alice@example.test', now: T0 + 1 });
      const carol = await addUser(store, { email: 'car_ol%@example.test', now: T0 + 2 });
      const all = await store.listUsers({ limit: 10 });
      const tied = [bob, carol].sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(all.map((u) => u.id)).toEqual([alice.id, ...tied.map((u) => u.id)]);
      expect(all[0]).toEqual(alice);
      expect((await store.listUsers({ limit: 10, query: 'ALICE' })).map((u) => u.email)).toEqual(['alice@example.test']);
      expect((await store.listUsers({ limit: 10, query: 'EXAMPLE.test' })).length).toBe(3);
      // LIKE's wildcards match literally.
      expect((await store.listUsers({ limit: 10, query: '_' })).map((u) => u.id)).toEqual([carol.id]);
      expect((await store.listUsers({ limit: 10, query: '%' })).map((u) => u.id)).toEqual([carol.id]);
      expect((await store.listUsers({ limit: 10, query: bob.id })).map((u) => u.id)).toEqual([bob.id]);
      expect(await store.listUsers({ limit: 10, query: `${bob.id.slice(0, 10).toUpperCase()}x` })).toEqual([]);
      expect((await store.listUsers({ limit: 1, after: { createdAt: alice.createdAt, id: alice.id } })).map((u) => u.id)).toEqual([tied[0]!.id]);
    });

    it('pages 1,000 users in pages of 50 while users are being created: none repeated, none dropped', async () => {
      const store = await open();
      const original = new Set<string>();
      // 100 creation times with 10 users each: the id breaks the ties.
      for (let batch = 0; batch < 10; batch++) {
        const users = await Promise.all(Array.from({ length: 100 }, (_, i) => addUser(store, { now: T0 + i * 1000 })));
        for (const u of users) original.add(u.id);
      }
      let created = 0;
      // Between pages, 10 more users, some at the same instants as existing ones, some later.
      const during = async () => {
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            addUser(store, { now: i % 2 === 0 ? T0 + Math.floor(Math.random() * 100) * 1000 : T0 + 200_000 + created }),
          ),
        );
        created += 10;
      };
      const seen = await pageAll(store, 50, undefined, during);
      const ids = seen.map((u) => u.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of original) expect(ids).toContain(id);
      expect(created).toBeGreaterThanOrEqual(200);
      // Creation order throughout.
      for (let i = 1; i < seen.length; i++) {
        const [a, b] = [seen[i - 1]!, seen[i]!];
        expect(a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.id < b.id)).toBe(true);
      }
    }, 120_000);

    it('updateUser changes role, disabled and verification with one audit row each, by the actor; disabling revokes every session', async () => {
      const store = await open();
      await addUser(store, { role: 'admin' });
      const user = await addUser(store);
      const [s1, s2] = [await addSession(store, user), await addSession(store, user)];
      const actor = { actorId: 'admin-1', ip: '198.51.100.1' };
      const changed = await store.updateUser(user.id, { role: 'editor', disabled: true, emailVerified: true }, T0 + 5, actor);
      expect(changed).toMatchObject({ ok: true, revokedSessions: 2, user: { role: 'editor', disabledAt: T0 + 5, emailVerifiedAt: T0 + 5 } });
      for (const s of [s1, s2]) expect(await store.findSession(s.id)).toMatchObject({ revokedAt: T0 + 5, revokedReason: 'account_disabled' });
      const events = (await store.queryAudit({ userId: user.id, limit: 10 })).filter((e) => e.type !== 'login_success');
      expect(events.map((e) => [e.type, e.actorId, e.ip])).toEqual([
        ['admin_email_verified', 'admin-1', '198.51.100.1'],
        ['admin_user_disabled', 'admin-1', '198.51.100.1'],
        ['admin_role_changed', 'admin-1', '198.51.100.1'],
      ]);
      expect(events.find((e) => e.type === 'admin_role_changed')?.detail).toEqual({ from: 'user', to: 'editor' });
      // While disabled, no session can be created, even with the current generation.
      const current = (await store.findUserById(user.id))!;
      expect(current.credentialGeneration).toBe(user.credentialGeneration + 1);
      const attempt = {
        id: `sess-${randomUUID()}`,
        userId: user.id,
        credentialGeneration: current.credentialGeneration,
        now: T0 + 6,
        idleExpiresAt: T0 + 100_000,
        absoluteExpiresAt: T0 + 200_000,
        userAgent: null,
        ip: null,
      };
      expect(await store.createSession(attempt, { type: 'login_success', ip: null })).toBeUndefined();
      // Nothing to change: no audit row. Enabling restores no session.
      const same = await store.updateUser(user.id, { role: 'editor', disabled: true, emailVerified: true }, T0 + 7, actor);
      expect(same).toMatchObject({ ok: true, revokedSessions: 0, events: [] });
      expect(await store.updateUser(user.id, { disabled: false, emailVerified: false }, T0 + 8, CLI)).toMatchObject({
        ok: true,
        user: { disabledAt: null, emailVerifiedAt: null },
      });
      expect(await store.findSession(s1.id)).toMatchObject({ revokedReason: 'account_disabled' });
      expect((await store.queryAudit({ actorId: 'cli', limit: 10 })).map((e) => e.type)).toEqual(['admin_email_unverified', 'admin_user_enabled']);
      expect(await store.createSession({ ...attempt, id: `sess-${randomUUID()}` }, { type: 'login_success', ip: null })).toBeDefined();
      expect(await store.updateUser('nobody', { role: 'x' }, T0, CLI)).toEqual({ ok: false, reason: 'no_user' });
      expect(await store.deleteUser('nobody', T0, CLI)).toEqual({ ok: false, reason: 'no_user' });
    });

    it('the last enabled admin cannot be demoted, disabled or deleted; a disabled admin does not count', async () => {
      const store = await open();
      const a = await addUser(store, { role: 'admin' });
      const b = await addUser(store, { role: 'admin' });
      expect(await store.updateUser(b.id, { disabled: true }, T0, CLI)).toMatchObject({ ok: true });
      for (const change of [{ role: 'user' }, { disabled: true }]) {
        expect(await store.updateUser(a.id, change, T0, CLI)).toEqual({ ok: false, reason: 'last_admin' });
      }
      expect(await store.deleteUser(a.id, T0, CLI)).toEqual({ ok: false, reason: 'last_admin' });
      expect(await store.findUserById(a.id)).toMatchObject({ role: 'admin', disabledAt: null });
      // Changing something else of the last admin is fine; so is re-enabling the other one.
      expect(await store.updateUser(a.id, { role: 'admin', emailVerified: true }, T0, CLI)).toMatchObject({ ok: true });
      expect(await store.updateUser(b.id, { disabled: false }, T0, CLI)).toMatchObject({ ok: true });
      expect(await store.deleteUser(a.id, T0, CLI)).toMatchObject({ ok: true });
    });

    it('two admins demoting each other at once (sibling stores): exactly one succeeds', async () => {
      for (let round = 0; round < 5; round++) {
        const stores = await openMany(2);
        const a = await addUser(stores[0]!, { role: 'admin' });
        const b = await addUser(stores[0]!, { role: 'admin' });
        const results = await Promise.all([
          stores[0]!.updateUser(a.id, { role: 'user' }, T0, { actorId: b.id, ip: null }),
          stores[1]!.updateUser(b.id, { disabled: true }, T0, { actorId: a.id, ip: null }),
        ]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok && r.reason === 'last_admin')).toHaveLength(1);
        const admins = (await stores[0]!.listUsers({ limit: 10 })).filter((u) => u.role === 'admin' && u.disabledAt === null);
        expect(admins).toHaveLength(1);
      }
    });

    it('deleting an account removes every row it owns; its audit rows keep the id without address, IP or user agent', async () => {
      const store = await open();
      await addUser(store, { role: 'admin' });
      const email = `gone-${randomUUID()}@example.test`;
      const user = await addUser(store, { email });
      const userIp = '203.0.113.77';
      const userAgent = 'DeletedUserAgent/1.0';
      const session = await store.createSession(
        {
          id: `sess-${randomUUID()}`,
          userId: user.id,
          credentialGeneration: 0,
          now: T0,
          idleExpiresAt: T0 + 100_000,
          absoluteExpiresAt: T0 + 200_000,
          userAgent,
          ip: userIp,
        },
        { type: 'login_success', ip: userIp, detail: { method: 'password' } },
      );
      expect(session).toBeDefined();
      // One row in each table that can name the user.
      expect(await store.saveTotpEnrollment({ id: `totp-${randomUUID()}`, userId: user.id, secretSealed: 'v1.sealed', now: T0 })).toBe('saved');
      expect(await store.confirmTotp(user.id, 1, T0, ['code-mac-1'], { type: 'mfa_enrolled', at: T0, userId: user.id, ip: userIp })).toBe(true);
      const identity = await store.linkIdentity(
        { id: `idn-${randomUUID()}`, userId: user.id, provider: 'acme', subject: `sub-${randomUUID()}`, email, now: T0 },
        { type: 'identity_linked', at: T0, userId: user.id, ip: userIp, detail: { provider: 'acme', via: 'signed_in' } },
      );
      expect(identity).not.toBe('taken');
      await store.createMfaToken({
        mac: `mfa-${randomUUID()}`,
        userId: user.id,
        amr: ['pwd'],
        credentialGeneration: 1,
        dpopJkt: null,
        now: T0,
        expiresAt: T0 + 1000,
      });
      const mail = { id: `mail-${randomUUID()}`, kind: 'reset', sealed: 'v1.sealed-mail', now: T0 };
      expect(await store.issueLink({ mac: `link-${randomUUID()}`, userId: user.id, kind: 'reset', now: T0, expiresAt: T0 + 1000 }, mail)).toBe(
        'issued',
      );
      await store.enqueueMail(
        { id: `mail-${randomUUID()}`, kind: 'password_changed', sealed: 'v1.notice', now: T0 },
        { type: 'password_change', at: T0, userId: user.id, ip: userIp },
      );
      await store.appendAudit({
        type: 'login_failure',
        at: T0,
        userId: user.id,
        ip: userIp,
        detail: { reason: 'wrong_password', emailDomain: 'example.test' },
      });
      await store.appendAudit({
        type: 'admin_role_changed',
        at: T0,
        userId: 'someone-else',
        actorId: user.id,
        ip: userIp,
        detail: { from: 'a', to: 'b' },
      });
      await store.deleteUser(user.id, T0 + 1, { actorId: 'cli', ip: null });

      expect(await store.findUserById(user.id)).toBeUndefined();
      expect(await store.findSession(session!.id)).toBeUndefined();
      expect(await store.listFactors(user.id)).toEqual([]);
      const kept = await store.queryAudit({ userId: user.id, limit: 100 });
      expect(kept.map((e) => e.type).sort()).toEqual([
        'admin_role_changed',
        'admin_user_deleted',
        'identity_linked',
        'login_failure',
        'login_success',
        'mfa_enrolled',
        'password_change',
      ]);
      for (const event of kept) {
        expect(event.ip).toBeNull();
        expect(JSON.stringify(event.detail ?? {})).not.toMatch(/example\.test|DeletedUserAgent/);
      }
      expect(kept.find((e) => e.type === 'login_failure')?.detail).toEqual({ reason: 'wrong_password' });
      if (!dumpTables) return;
      // Every table of the schema, read from the catalogue: tables added later are covered too.
      const tables = await dumpTables(store);
      expect(Object.keys(tables)).toEqual(expect.arrayContaining(['users', 'sessions', 'audit_events', 'mail_queue', 'passkeys']));
      for (const [table, rows] of Object.entries(tables)) {
        for (const row of rows) {
          const text = JSON.stringify(row);
          expect(text, table).not.toContain(email);
          expect(text, table).not.toContain(userIp);
          expect(text, table).not.toContain(userAgent);
          if (table !== 'audit_events') expect(text, table).not.toContain(user.id);
        }
      }
    });

    it('queryAudit: newest first, filters by user (about or by), actor and type, keyset cursor', async () => {
      const store = await open();
      const at = T0;
      await store.appendAudit({ type: 'login_success', at, userId: 'u1' });
      await store.appendAudit({ type: 'admin_role_changed', at, userId: 'u2', actorId: 'u1' });
      await store.appendAudit({ type: 'admin_user_disabled', at, userId: 'u3', actorId: 'cli' });
      await store.appendAudit({ type: 'login_success', at, userId: 'u2' });
      const all = await store.queryAudit({ limit: 10 });
      expect(all.map((e) => e.type)).toEqual(['login_success', 'admin_user_disabled', 'admin_role_changed', 'login_success']);
      expect(all[2]).toMatchObject({ userId: 'u2', actorId: 'u1' });
      expect((await store.queryAudit({ userId: 'u1', limit: 10 })).map((e) => e.type)).toEqual(['admin_role_changed', 'login_success']);
      expect((await store.queryAudit({ actorId: 'cli', limit: 10 })).map((e) => e.userId)).toEqual(['u3']);
      expect((await store.queryAudit({ type: 'login_success', limit: 10 })).map((e) => e.userId)).toEqual(['u2', 'u1']);
      expect((await store.queryAudit({ userId: 'u2', type: 'login_success', limit: 10 })).map((e) => e.userId)).toEqual(['u2']);
      const first = await store.queryAudit({ limit: 3 });
      const rest = await store.queryAudit({ limit: 3, before: first.at(-1)!.id });
      expect([...first, ...rest].map((e) => e.id)).toEqual(all.map((e) => e.id));
    });
  });
}
