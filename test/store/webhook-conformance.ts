/**
 * The webhook part of the store conformance suite: the outbox row is written with the audit row
 * (by every kind of audited write, and only while the outbox is on), and the delivery queue —
 * leases never shared between workers, retries, dead letters and their retry, purging.
 * Run by `runStoreConformance` for every store, across sibling stores where the dialect allows.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SessionRecord, Store, UserRecord } from '../../src/store/types.js';

export interface WebhookConformanceHelpers {
  open(): Promise<Store>;
  openMany(count: number): Promise<Store[]>;
  addUser(store: Store): Promise<UserRecord>;
  addSession(store: Store, user: UserRecord): Promise<SessionRecord>;
}

const T0 = 1_700_000_000_000;
const MINUTE = 60_000;

const mail = () => ({ id: `mail-${randomUUID()}`, kind: 'notice', sealed: `sealed.${randomUUID()}`, now: T0 });

export function runWebhookConformance(name: string, { open, openMany, addUser, addSession }: WebhookConformanceHelpers): void {
  /** A store with the outbox on and `n` audit events appended; returns their ids. */
  async function withEvents(store: Store, n: number): Promise<number[]> {
    await store.setWebhookOutbox(true, T0);
    for (let i = 0; i < n; i++) await store.appendAudit({ type: 'register', at: T0 + i, userId: `u-${i}` });
    return (await store.listAudit({ limit: 1000 })).map((e) => e.id);
  }

  describe(`${name}: webhook outbox`, () => {
    it('off by default: audited writes leave no delivery; on: every audited write leaves exactly one, a copy of the event without its IP', async () => {
      const store = await open();
      expect(await store.webhookOutboxEnabled()).toBe(false);
      const user = await addUser(store);
      const before = await addSession(store, user);
      await store.appendAudit({ type: 'key_rotated', at: T0, detail: { kid: 'k1' } });
      expect(await store.listWebhooks()).toEqual([]);

      expect(await store.setWebhookOutbox(true, T0)).toBe(true);
      expect(await store.setWebhookOutbox(true, T0)).toBe(false);
      expect(await store.webhookOutboxEnabled()).toBe(true);
      // One of each way an audit row is written: plain, with a new session (PostgreSQL: one CTE
      // statement), with a rotation (one CTE statement), inside a Kysely transaction.
      await store.appendAudit({
        type: 'login_failure',
        at: T0 + 1,
        ip: '203.0.113.1',
        detail: { reason: 'unknown_user', emailDomain: 'example.test' },
      });
      const session = await addSession(store, user);
      const rotated = await store.rotateSession({
        id: session.id,
        expectedCounter: 0,
        now: T0 + 2,
        idleExpiresAt: T0 + 99 * MINUTE,
        audit: { type: 'refresh', ip: '203.0.113.2' },
      });
      expect(rotated.ok).toBe(true);
      await store.enqueueMail(mail(), { type: 'password_changed_notice', at: T0 + 3, userId: user.id, actorId: 'cli', ip: '203.0.113.3' });
      // A rotation that does not swap writes no audit row, hence no delivery.
      await store.rotateSession({
        id: before.id,
        expectedCounter: 7,
        now: T0 + 4,
        idleExpiresAt: T0 + 99 * MINUTE,
        audit: { type: 'refresh', ip: null },
      });

      const audit = (await store.listAudit({ limit: 1000 })).filter((e) => e.at >= T0 + 1 || e.type === 'login_success');
      const deliveries = await store.listWebhooks();
      const expected = audit.slice(-4);
      expect(deliveries.map((d) => d.eventId)).toEqual(expected.map((e) => e.id));
      for (const [i, d] of deliveries.entries()) {
        const event = expected[i]!;
        expect(d).toEqual({
          eventId: event.id,
          type: event.type,
          at: event.at,
          userId: event.userId,
          sessionId: event.sessionId,
          actorId: event.actorId,
          detail: event.detail,
          state: 'pending',
          attempts: 0,
          queuedAt: event.at,
          nextAttemptAt: event.at,
          deliveredAt: null,
          lastError: null,
        });
      }
      expect(deliveries.map((d) => d.type)).toEqual(['login_failure', 'login_success', 'refresh', 'password_changed_notice']);
      expect(deliveries[2]).toMatchObject({ userId: user.id, sessionId: session.id, actorId: null });
      expect(deliveries[3]).toMatchObject({ userId: user.id, actorId: 'cli' });
      expect(JSON.stringify(deliveries)).not.toContain('203.0.113');

      expect(await store.setWebhookOutbox(false, T0 + 5)).toBe(true);
      await store.appendAudit({ type: 'logout', at: T0 + 6 });
      expect(await store.listWebhooks()).toHaveLength(4);
      expect(await store.webhookCounts()).toEqual({ pending: 4, delivering: 0, delivered: 0, dead: 0 });
    });

    it('deleting an account keeps its outbox copies with their ids and erases their address-derived detail, as in the audit log', async () => {
      const store = await open();
      await store.setWebhookOutbox(true, T0);
      const user = await addUser(store);
      await store.appendAudit({
        type: 'login_failure',
        at: T0,
        userId: user.id,
        ip: '203.0.113.5',
        detail: { reason: 'wrong_password', emailDomain: 'example.test' },
      });
      await store.appendAudit({
        type: 'login_failure',
        at: T0,
        userId: 'someone-else',
        detail: { reason: 'wrong_password', emailDomain: 'example.test' },
      });
      expect(await store.deleteUser(user.id, T0 + 1, { actorId: 'cli', ip: null })).toMatchObject({ ok: true });
      const copies = await store.listWebhooks();
      expect(copies.map((d) => [d.type, d.userId, d.actorId, d.detail])).toEqual([
        ['login_failure', user.id, null, { reason: 'wrong_password' }],
        ['login_failure', 'someone-else', null, { reason: 'wrong_password', emailDomain: 'example.test' }],
        ['admin_user_deleted', user.id, 'cli', { role: 'user' }],
      ]);
    });

    it('claims due deliveries once, oldest first; delivered stays delivered; failures retry later or go dead', async () => {
      const store = await open();
      const [a, b, c] = await withEvents(store, 3);
      const claimed = await store.claimWebhooks('w1', T0 + 10, MINUTE, 2);
      expect(claimed.map((d) => [d.eventId, d.attempts, d.queuedAt])).toEqual([
        [a, 1, T0],
        [b, 1, T0 + 1],
      ]);
      expect(claimed[0]).toMatchObject({ type: 'register', userId: 'u-0', sessionId: null, detail: null });
      // Held: another worker gets only what is left.
      expect((await store.claimWebhooks('w2', T0 + 11, MINUTE, 10)).map((d) => d.eventId)).toEqual([c]);

      expect(await store.webhookDelivered(a!, 'w2', T0 + 12)).toBe(false); // not its lease
      expect(await store.webhookDelivered(a!, 'w1', T0 + 12)).toBe(true);
      expect(await store.webhookDelivered(a!, 'w1', T0 + 13)).toBe(false); // once
      expect(await store.webhookFailed(b!, 'w1', T0 + 5_000, 'HTTP 500')).toBe(true);
      expect(await store.webhookFailed(c!, 'w2', null, 'HTTP 410')).toBe(true);
      expect(await store.webhookCounts()).toEqual({ pending: 1, delivering: 0, delivered: 1, dead: 1 });

      expect(await store.claimWebhooks('w1', T0 + 4_999, MINUTE, 10)).toEqual([]);
      const retried = await store.claimWebhooks('w3', T0 + 5_000, MINUTE, 10);
      expect(retried.map((d) => [d.eventId, d.attempts])).toEqual([[b, 2]]);
      const [first] = await store.listWebhooks({ state: 'delivered' });
      expect(first).toMatchObject({ eventId: a, deliveredAt: T0 + 12, lastError: null, attempts: 1 });
      expect(await store.listWebhooks({ state: 'dead' })).toMatchObject([{ eventId: c, lastError: 'HTTP 410', attempts: 1 }]);
      expect(await store.claimWebhooks('w1', T0 + 5_000 + MINUTE - 1, MINUTE, 10)).toEqual([]); // b held by w3 until its lease ends
      expect((await store.claimWebhooks('w1', T0 + 5_000 + MINUTE, MINUTE, 10)).map((d) => [d.eventId, d.attempts])).toEqual([[b, 3]]);
      expect(await store.webhookFailed(b!, 'w3', T0, 'late')).toBe(false); // w3 lost its lease
    });

    it('expedite makes waiting deliveries due; dead letters go back to pending with a fresh series, all or by id', async () => {
      const store = await open();
      const [a, b, c] = await withEvents(store, 3);
      for (const d of await store.claimWebhooks('w1', T0 + 10, MINUTE, 10))
        await store.webhookFailed(d.eventId, 'w1', d.eventId === a ? T0 + 3_600_000 : null, 'ECONNREFUSED');
      expect(await store.claimWebhooks('w1', T0 + 20, MINUTE, 10)).toEqual([]);
      expect(await store.expediteWebhooks(T0 + 20)).toBe(1);
      expect((await store.claimWebhooks('w1', T0 + 20, MINUTE, 10)).map((d) => d.eventId)).toEqual([a]);

      expect(await store.retryDeadWebhooks(T0 + 30, [c!, 999_999])).toBe(1);
      expect(await store.listWebhooks({ state: 'pending' })).toMatchObject([
        { eventId: c, attempts: 0, queuedAt: T0 + 30, nextAttemptAt: T0 + 30, lastError: 'ECONNREFUSED' },
      ]);
      expect(await store.retryDeadWebhooks(T0 + 40, [])).toBe(0);
      expect(await store.retryDeadWebhooks(T0 + 40)).toBe(1);
      expect(await store.retryDeadWebhooks(T0 + 40)).toBe(0);
      const again = await store.claimWebhooks('w2', T0 + 40, MINUTE, 10);
      expect(again.map((d) => [d.eventId, d.attempts, d.queuedAt])).toEqual([
        [b, 1, T0 + 40],
        [c, 1, T0 + 30],
      ]);
    });

    it('a delivery whose worker died (lease expired) is claimed again', async () => {
      const store = await open();
      const [a] = await withEvents(store, 1);
      expect(await store.claimWebhooks('dead-worker', T0, MINUTE, 10)).toHaveLength(1);
      expect(await store.claimWebhooks('w2', T0 + MINUTE - 1, MINUTE, 10)).toEqual([]);
      expect((await store.claimWebhooks('w2', T0 + MINUTE, MINUTE, 10)).map((d) => [d.eventId, d.attempts])).toEqual([[a, 2]]);
      expect(await store.webhookDelivered(a!, 'dead-worker', T0 + MINUTE)).toBe(false);
    });

    it('lists in event order with a cursor; purges delivered and dead rows past their cut-offs', async () => {
      const store = await open();
      const ids = await withEvents(store, 5);
      expect((await store.listWebhooks({ limit: 2 })).map((d) => d.eventId)).toEqual(ids.slice(0, 2));
      expect((await store.listWebhooks({ afterId: ids[1]!, limit: 2 })).map((d) => d.eventId)).toEqual(ids.slice(2, 4));
      const claimed = await store.claimWebhooks('w', T0 + 10, MINUTE, 3);
      await store.webhookDelivered(claimed[0]!.eventId, 'w', T0 + 100);
      await store.webhookDelivered(claimed[1]!.eventId, 'w', T0 + 200);
      await store.webhookFailed(claimed[2]!.eventId, 'w', null, 'HTTP 404');
      expect(await store.purgeWebhooks(T0 + 150, T0)).toBe(1);
      expect(await store.purgeWebhooks(T0 + 150, T0 + 3)).toBe(1);
      expect((await store.listWebhooks()).map((d) => d.eventId)).toEqual([ids[1], ids[3], ids[4]]);
    });

    it('4 workers claiming 120 deliveries at once over several stores: each delivery is held by exactly one', async () => {
      const stores = await openMany(4);
      await withEvents(stores[0]!, 120);
      const taken = new Map<number, string>();
      let clashes = 0;
      await Promise.all(
        stores.map(async (store, i) => {
          for (;;) {
            const batch = await store.claimWebhooks(`w${i}`, T0 + 1_000, 10 * MINUTE, 7);
            if (batch.length === 0) return;
            for (const d of batch) {
              if (taken.has(d.eventId)) clashes++;
              taken.set(d.eventId, `w${i}`);
              expect(await store.webhookDelivered(d.eventId, `w${i}`, T0 + 1_001)).toBe(true);
            }
          }
        }),
      );
      expect(clashes).toBe(0);
      expect(taken.size).toBe(120);
      expect(await stores[0]!.webhookCounts()).toEqual({ pending: 0, delivering: 0, delivered: 120, dead: 0 });
    });
  });
}
