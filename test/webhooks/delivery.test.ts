/**
 * Webhooks end to end in one process, checked with the Standard Webhooks reference verifier
 * (`standardwebhooks`) in a receiver the test runs: every audited event of a session's life
 * arrives once, signed, with the documented body and no secret in it; a receiver answering 500
 * three times then 200 gets one id four times (three retries, each re-signed); after 82 failed
 * attempts over 72 h a delivery is dead-lettered, and a retry sends it again.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { outboxDirFor } from '../../src/mail/transport.js';
import { retryDelay, WEBHOOK_GIVE_UP_MS, WEBHOOK_MAX_ATTEMPTS, WebhookWorker } from '../../src/webhooks/worker.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testClock } from '../helpers/clock.js';
import { startReceiver, type Answer, type Receiver, type ReceivedWebhook } from '../helpers/webhook-receiver.js';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a different horse, battery and staple';
const BODY = { 'x-latchkey-transport': 'body' };
const HOUR = 3_600_000;

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function receiver(answer?: Answer): Promise<Receiver> {
  const r = await startReceiver(answer ? { answer } : {});
  open.push(r);
  return r;
}

async function server(options: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const s = await startTestServer(options);
  open.push(s);
  return s;
}

const byId = (received: ReceivedWebhook[]) => {
  const map = new Map<string, ReceivedWebhook[]>();
  for (const r of received) map.set(r.id, [...(map.get(r.id) ?? []), r]);
  return map;
};

describe('webhook delivery', () => {
  it('every audited event of an account’s life arrives once, verified by standardwebhooks, with the documented body and no secret', async () => {
    const hooks = await receiver();
    const s = await server({ webhookUrl: hooks.url, webhookSecret: hooks.secret, now: Date.now, refreshGrace: 0 });
    const { client } = s;
    const email = 'hooks@example.test';
    const secrets: string[] = [PASSWORD, NEW_PASSWORD, hooks.secret, hooks.secret.slice('whsec_'.length)];
    const master = s.latchkey.config.secret!;
    secrets.push(Buffer.from(master).toString('base64url'), Buffer.from(master).toString('hex'));

    const registered = await client.post('/auth/register', { body: { email, password: PASSWORD } });
    expect(registered.status).toBe(201);
    const userId = registered.body.user.id as string;
    expect((await client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(409);
    expect((await client.post('/auth/login', { body: { email, password: 'wrong password, wrong' } })).status).toBe(401);
    const login = await client.post('/auth/login', { headers: BODY, body: { email, password: PASSWORD } });
    expect(login.status).toBe(200);
    const first = login.body.refreshToken as string;
    const refreshed = await client.post('/auth/refresh', { headers: BODY, body: { refreshToken: first } });
    expect(refreshed.status).toBe(200);
    // Grace 0: the spent token again is reuse, and the session is revoked.
    expect((await client.post('/auth/refresh', { headers: BODY, body: { refreshToken: first } })).body.error).toBe('REFRESH_TOKEN_REUSED');
    const a = await client.post('/auth/login', { headers: BODY, body: { email, password: PASSWORD } });
    const b = await client.post('/auth/login', { headers: BODY, body: { email, password: PASSWORD } });
    const bSession = (await client.get('/auth/sessions', { bearer: b.body.accessToken })).body.sessions.find(
      (x: { current: boolean }) => x.current,
    ).id;
    expect((await client.delete(`/auth/sessions/${bSession}`, { bearer: a.body.accessToken })).status).toBe(204);
    expect(
      (await client.post('/auth/password', { bearer: a.body.accessToken, body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } })).status,
    ).toBe(200);
    expect((await client.post('/auth/password/forgot', { body: { email } })).status).toBe(202);
    expect(
      (
        await client.post('/auth/email/change', {
          bearer: a.body.accessToken,
          body: { newEmail: 'hooks2@example.test', currentPassword: NEW_PASSWORD },
        })
      ).status,
    ).toBe(202);
    const c = await client.post('/auth/login', { headers: BODY, body: { email, password: NEW_PASSWORD } });
    expect((await client.post('/auth/logout', { headers: BODY, body: { refreshToken: c.body.refreshToken } })).status).toBe(200);
    expect((await client.post('/auth/logout-all', { bearer: a.body.accessToken })).status).toBe(200);
    await s.latchkey.keys.rotate({ force: true });
    // An admin's actions carry the admin as actorId.
    const admin = await s.latchkey.auth.createUser('root@example.test', PASSWORD, 'admin');
    const root = await client.post('/auth/login', { headers: BODY, body: { email: admin.email, password: PASSWORD } });
    expect(
      (await client.request('PATCH', `/admin/users/${userId}`, { bearer: root.body.accessToken, body: { role: 'editor', disabled: true } })).status,
    ).toBe(200);
    expect((await client.post(`/admin/users/${userId}/sessions/revoke`, { bearer: root.body.accessToken })).status).toBe(200);
    for (const r of [login, refreshed, a, b, c, root]) secrets.push(r.body.accessToken, r.body.refreshToken);

    await s.latchkey.email.drain();
    const audit = await s.latchkey.store.listAudit({ limit: 1000 });
    await hooks.waitFor((received) => new Set(received.map((r) => r.id)).size >= audit.length, 15_000);
    // The links mailed (reset, verification, address change) carry tokens: none may be in a webhook.
    await expect.poll(() => readdirSync(outboxDirFor(s.latchkey.config.databaseUrl)).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
    for (const file of readdirSync(outboxDirFor(s.latchkey.config.databaseUrl))) {
      const eml = readFileSync(join(outboxDirFor(s.latchkey.config.databaseUrl), file), 'utf8');
      for (const [, token] of eml.matchAll(/token=([A-Za-z0-9_-]{20,})/g)) secrets.push(token!);
    }

    const types = audit.map((e) => e.type);
    for (const type of [
      'register',
      'email_verification_sent',
      'login_failure',
      'login_success',
      'refresh',
      'refresh_reuse_detected',
      'session_revoked',
      'password_change',
      'password_reset_requested',
      'email_change_requested',
      'logout',
      'logout_all',
      'key_rotated',
      'admin_role_changed',
      'admin_user_disabled',
      'admin_sessions_revoked',
    ]) {
      expect(types).toContain(type);
    }
    const received = byId(hooks.received);
    expect(received.size).toBe(audit.length);
    for (const event of audit) {
      const requests = received.get(String(event.id));
      expect(requests, `event ${event.id} (${event.type})`).toHaveLength(1);
      const [request] = requests!;
      expect(request!.payload, `signature of ${event.type}`).toBeDefined();
      expect(request!.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(request!.headers['content-type']).toBe('application/json');
      // Personal details stay in the audit log (docs/admin.md#a-request).
      const { emailDomain: _d, previousDomain: _p, account: _a, ...detail } = event.detail ?? {};
      expect(request!.payload).toEqual({
        type: event.type,
        timestamp: new Date(event.at).toISOString(),
        data: {
          eventId: event.id,
          userId: event.userId,
          ...(event.actorId ? { actorId: event.actorId } : {}),
          ...(event.sessionId ? { sessionId: event.sessionId } : {}),
          ...detail,
        },
      });
      expect(Object.keys(request!.payload!.data)).not.toContain('ip');
    }
    expect(received.get(String(audit.find((e) => e.type === 'register')!.id))![0]!.payload!.data.userId).toBe(userId);
    const disabled = received.get(String(audit.find((e) => e.type === 'admin_user_disabled')!.id))![0]!.payload!;
    expect(disabled.data).toMatchObject({ userId, actorId: admin.id });
    const everything = hooks.received.map((r) => r.body + JSON.stringify({ ...r.headers, 'webhook-signature': undefined })).join('\n');
    expect(secrets.length).toBeGreaterThan(15);
    for (const secret of secrets) expect(everything.includes(secret), 'a secret in a webhook').toBe(false);
    expect(everything).not.toContain(email);
    expect(everything).not.toContain('example.test');
    expect(everything).not.toContain('127.0.0.1"');
    await expect.poll(async () => (await s.latchkey.store.webhookCounts()).delivered).toBe(audit.length);
    expect(await s.latchkey.store.webhookCounts()).toMatchObject({ pending: 0, delivering: 0, dead: 0 });
    const metrics = (await client.get('/metrics')).text;
    expect(metrics).toContain(`latchkey_webhook_attempts_total{result="delivered"} ${audit.length}`);
    expect(metrics).toContain(`latchkey_webhook_deliveries{state="delivered"} ${audit.length}`);
    expect(metrics).toContain('latchkey_webhook_deliveries{state="dead"} 0');
  }, 60_000);

  it('a receiver answering 500 three times then 200: one id, three retries with the same body, each re-signed with a fresh timestamp', async () => {
    const hooks = await receiver(({ seen }) => (seen <= 3 ? 500 : 200));
    const s = await server({ now: Date.now, webhookWorker: false });
    await s.latchkey.store.setWebhookOutbox(true, Date.now());
    // The worker as `latchkey serve` runs it, with 1.1 s between attempts instead of 5 s, 10 s, 20 s.
    const worker = new WebhookWorker({ store: s.latchkey.store, url: hooks.url, secret: hooks.secret, retryDelay: () => 1_100, pollMs: 100 });
    open.push({ close: () => worker.stop() });
    await worker.start();
    expect((await s.client.post('/auth/register', { body: { email: 'retry@example.test', password: PASSWORD } })).status).toBe(201);

    const audit = await s.latchkey.store.listAudit();
    expect(audit.map((e) => e.type)).toEqual(['register', 'email_verification_sent']);
    await hooks.waitFor(() => hooks.delivered().length === audit.length, 20_000);
    const received = byId(hooks.received);
    expect([...received.keys()].sort()).toEqual(audit.map((e) => String(e.id)).sort());
    for (const requests of received.values()) {
      expect(requests.map((r) => r.status)).toEqual([500, 500, 500, 200]);
      expect(new Set(requests.map((r) => r.body)).size).toBe(1);
      expect(requests.every((r) => r.payload !== undefined)).toBe(true);
      const times = requests.map((r) => Number(r.timestamp));
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1]!);
      expect(new Set(requests.map((r) => r.signature)).size).toBe(4);
      for (let i = 1; i < requests.length; i++) expect(requests[i]!.receivedAt - requests[i - 1]!.receivedAt).toBeGreaterThanOrEqual(1_000);
    }
    await expect.poll(async () => (await s.latchkey.store.webhookCounts()).delivered).toBe(2);
    const rows = await s.latchkey.store.listWebhooks();
    expect(rows.map((r) => [r.state, r.attempts, r.lastError])).toEqual([
      ['delivered', 4, null],
      ['delivered', 4, null],
    ]);
  }, 40_000);

  it('the retry schedule: first retry after 5 s, doubling to 1 h, and 82 attempts span more than 72 h', () => {
    expect([1, 2, 3, 4].map(retryDelay)).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect(retryDelay(10)).toBe(2_560_000);
    expect(retryDelay(11)).toBe(HOUR);
    expect(retryDelay(500)).toBe(HOUR);
    const span = Array.from({ length: WEBHOOK_MAX_ATTEMPTS - 1 }, (_, i) => retryDelay(i + 1)).reduce((x, y) => x + y, 0);
    expect(span).toBeGreaterThanOrEqual(72 * HOUR);
    expect(span - HOUR).toBeLessThan(72 * HOUR); // one attempt fewer would not do
    expect(WEBHOOK_GIVE_UP_MS).toBe(72 * HOUR);
  });

  it('a delivery failing for 72 h is dead-lettered after its 82nd attempt, not before; a retry of the dead letter sends it again', async () => {
    const hooks = await receiver(() => 503);
    // The clock starts 81 h ago and moves 1 h per attempt, so the last attempts carry current timestamps.
    const clock = testClock(Date.now() - 81 * HOUR);
    const s = await server({ now: clock.now, webhookWorker: false });
    await s.latchkey.store.setWebhookOutbox(true, clock.now());
    await s.latchkey.store.appendAudit({ type: 'key_rotated', at: clock.now(), detail: { kid: 'k' } });
    const worker = new WebhookWorker({ store: s.latchkey.store, url: hooks.url, secret: hooks.secret, now: clock.now, retryDelay: () => 0 });
    for (let attempt = 1; attempt < WEBHOOK_MAX_ATTEMPTS; attempt++) {
      expect(await worker.runOnce()).toBe(1);
      clock.advance(HOUR);
    }
    expect((await s.latchkey.store.listWebhooks())[0]).toMatchObject({ state: 'pending', attempts: WEBHOOK_MAX_ATTEMPTS - 1, lastError: 'HTTP 503' });
    expect(await worker.runOnce()).toBe(1);
    expect(await s.latchkey.store.webhookCounts()).toMatchObject({ pending: 0, dead: 1 });
    expect(await worker.runOnce()).toBe(0);
    expect(hooks.received).toHaveLength(WEBHOOK_MAX_ATTEMPTS);

    hooks.answer = () => 204;
    expect(await s.latchkey.store.retryDeadWebhooks(clock.now())).toBe(1);
    expect(await worker.runOnce()).toBe(1);
    expect(hooks.delivered()).toHaveLength(1);
    expect(hooks.received.at(-1)!.payload).toBeDefined();
    expect(new Set(hooks.received.map((r) => r.id)).size).toBe(1);
    expect(await s.latchkey.store.webhookCounts()).toMatchObject({ delivered: 1, dead: 0 });
  }, 60_000);
});
