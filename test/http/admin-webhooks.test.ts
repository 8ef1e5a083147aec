/**
 * The admin API's webhook routes over a real server (docs/admin.md#webhooks): `GET /admin/webhooks`
 * lists the outbox (state=dead: the dead letters) a page at a time, `POST /admin/webhooks/retry`
 * queues dead letters again (all, or the ids given) and is audited with the admin's id; both
 * refuse a non-admin (403) and a missing token (401), and bad input (400).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectError, PASSWORD } from './contract.js';

const BODY = { 'x-latchkey-transport': 'body' };

describe('admin API — webhooks', () => {
  let t: TestServer;
  let adminToken: string;
  let adminId: string;
  let userToken: string;
  let ids: number[];

  beforeAll(async () => {
    t = await startTestServer({});
    const login = async (email: string) =>
      (await t.client.post('/auth/login', { headers: BODY, body: { email, password: PASSWORD } })).body.accessToken as string;
    const admin = await t.latchkey.auth.createUser(`admin-${randomUUID()}@example.com`, PASSWORD, 'admin');
    const user = await t.latchkey.auth.createUser(`user-${randomUUID()}@example.com`, PASSWORD, 'user');
    adminId = admin.id;
    adminToken = await login(admin.email);
    userToken = await login(user.email);
    const { store } = t.latchkey;
    await store.setWebhookOutbox(true, t.clock.now());
    for (const type of ['register', 'login_success', 'refresh', 'logout']) await store.appendAudit({ type, at: t.clock.now(), userId: user.id });
    ids = (await store.listWebhooks()).map((d) => d.eventId);
    const [a, b, c] = await store.claimWebhooks('w', t.clock.now(), 60_000, 3);
    await store.webhookDelivered(a!.eventId, 'w', t.clock.now());
    await store.webhookFailed(b!.eventId, 'w', null, 'HTTP 500');
    await store.webhookFailed(c!.eventId, 'w', null, 'timeout');
  }, 60_000);
  afterAll(() => t?.close());

  it('GET /admin/webhooks?state=dead lists the dead letters in event order, a page at a time', async () => {
    const first = await t.client.get('/admin/webhooks?state=dead&limit=1', { bearer: adminToken });
    expect(first.status).toBe(200);
    expect(first.body.deliveries).toEqual([
      {
        id: ids[1],
        type: 'login_success',
        at: expect.any(String),
        userId: expect.any(String),
        state: 'dead',
        attempts: 1,
        queuedAt: expect.any(String),
        nextAttemptAt: null,
        deliveredAt: null,
        lastError: 'HTTP 500',
      },
    ]);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t.client.get(`/admin/webhooks?state=dead&limit=1&cursor=${first.body.nextCursor}`, { bearer: adminToken });
    expect(second.body.deliveries.map((d: { id: number; lastError: string }) => [d.id, d.lastError])).toEqual([[ids[2], 'timeout']]);
    expect(second.body.nextCursor).toBeNull();
    const all = await t.client.get('/admin/webhooks', { bearer: adminToken });
    expect(all.body.deliveries.map((d: { state: string }) => d.state).slice(0, 4)).toEqual(['delivered', 'dead', 'dead', 'pending']);
    expect(all.body.deliveries[3].nextAttemptAt).toEqual(expect.any(String));
  });

  it('refuses a non-admin (403), no token (401), a bad state or cursor (400)', async () => {
    expectError(await t.client.get('/admin/webhooks', { bearer: userToken }), 403, 'FORBIDDEN');
    expectError(await t.client.post('/admin/webhooks/retry', { bearer: userToken }), 403, 'FORBIDDEN');
    expectError(await t.client.get('/admin/webhooks'), 401, 'MISSING_TOKEN');
    expectError(await t.client.get('/admin/webhooks?state=lost', { bearer: adminToken }), 400, 'VALIDATION_FAILED');
    expectError(await t.client.get('/admin/webhooks?cursor=bogus', { bearer: adminToken }), 400, 'VALIDATION_FAILED');
    expectError(await t.client.get('/admin/webhooks?state=dead&state=pending', { bearer: adminToken }), 400, 'VALIDATION_FAILED');
    expectError(await t.client.post('/admin/webhooks/retry', { bearer: adminToken, body: { ids: 'all' } }), 400, 'VALIDATION_FAILED');
    expectError(await t.client.post('/admin/webhooks/retry', { bearer: adminToken, body: { ids: [1.5] } }), 400, 'VALIDATION_FAILED');
    expectError(await t.client.post('/admin/webhooks/retry', { bearer: adminToken, body: { everything: true } }), 400, 'VALIDATION_FAILED');
    expect((await t.latchkey.store.webhookCounts()).dead).toBe(2);
  });

  it('POST /admin/webhooks/retry queues the dead letters named, then all; audited with the admin as actor', async () => {
    const named = await t.client.post('/admin/webhooks/retry', { bearer: adminToken, body: { ids: [ids[1], ids[0]] } });
    expect([named.status, named.body]).toEqual([200, { requeued: 1 }]);
    expect((await t.latchkey.store.listWebhooks({ state: 'dead' })).map((d) => d.eventId)).toEqual([ids[2]]);
    const all = await t.client.post('/admin/webhooks/retry', { bearer: adminToken });
    expect(all.body).toEqual({ requeued: 1 });
    expect((await t.latchkey.store.webhookCounts()).dead).toBe(0);
    const audit = await t.client.get('/admin/audit?type=admin_webhooks_retried', { bearer: adminToken });
    expect(audit.body.events.map((e: { actorId: string; data: unknown }) => [e.actorId, e.data])).toEqual([
      [adminId, { count: 1 }],
      [adminId, { count: 1, requested: 2 }],
    ]);
  });
});
