/**
 * `latchkey serve` killed with SIGKILL while 100 webhook deliveries are pending (the receiver
 * answering 500), then started again: every delivery arrives — none lost —, each id is accepted
 * once, every attempt of an id carries the same body, and what was pending is attempted within
 * 10 s of the start. Checked with the Standard Webhooks reference verifier.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore, type Store } from '../../src/store/index.js';
import { refresh, refreshTokenOf, signUp, startInstance, type Instance } from '../multi-instance/instances.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const EVENTS = 100;
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

describe('webhooks across a crash of latchkey serve', () => {
  it(`kill -9 with ${EVENTS} deliveries pending, restart: all delivered, none lost, ids repeated only by retries`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-hooks-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const hooks: Receiver = await startReceiver({ answer: () => 500 });
    cleanup.push(() => hooks.close());
    const env = {
      LATCHKEY_DATABASE_URL: `sqlite:${join(dir, 'latchkey.db')}`,
      LATCHKEY_SECRET: randomBytes(32).toString('base64url'),
      LATCHKEY_COOKIE_SECURE: 'false',
      LATCHKEY_RATE_LIMITS: 'off',
      LATCHKEY_LOG_LEVEL: 'warn',
      LATCHKEY_WEBHOOK_URL: hooks.url,
      LATCHKEY_WEBHOOK_SECRET: hooks.secret,
    };
    let first: Instance | undefined = await startInstance('A', env);
    cleanup.push(() => first?.stop() ?? Promise.resolve());

    // 100 audited events: a sign-up (register, verification mail, login), then refreshes.
    let { refreshToken } = await signUp(first.client);
    const store: Store = await createStore({ url: env.LATCHKEY_DATABASE_URL });
    cleanup.push(() => store.close());
    while ((await store.listAudit({ limit: 1000 })).length < EVENTS) {
      const next = await refresh(first.client, refreshToken);
      expect(next.status).toBe(200);
      refreshToken = refreshTokenOf(next)!;
    }
    const ids = (await store.listAudit({ limit: 1000 })).map((e) => String(e.id));
    expect(ids).toHaveLength(EVENTS);
    // Every delivery attempted once and refused; then the process dies without warning.
    await hooks.waitFor((received) => new Set(received.map((r) => r.id)).size === EVENTS, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    first.child.kill('SIGKILL');
    await first.stop();
    first = undefined;
    const before = await store.listWebhooks({ limit: 1000 });
    expect(before.map((d) => String(d.eventId))).toEqual(ids);
    expect(before.every((d) => d.state === 'pending' || d.state === 'delivering')).toBe(true);
    const pendingAtKill = new Set(before.filter((d) => d.state === 'pending').map((d) => String(d.eventId)));
    expect(hooks.delivered()).toEqual([]);
    const refusedBefore = hooks.received.length;

    hooks.answer = () => 200;
    const started = Date.now();
    const second = await startInstance('A2', env);
    cleanup.push(() => second.stop());
    // Pending deliveries within 10 s of the start; one held by the killed process once its 30 s lease ends.
    await hooks.waitFor(() => new Set(hooks.delivered()).size === EVENTS, 60_000);
    const after = hooks.received.slice(refusedBefore);
    for (const id of pendingAtKill) {
      const firstAfter = after.find((r) => r.id === id);
      expect(firstAfter!.receivedAt - started, `delivery ${id} after the restart`).toBeLessThanOrEqual(10_000);
    }
    expect(hooks.delivered().sort()).toEqual([...ids].sort()); // each id accepted exactly once
    const bodies = new Map<string, Set<string>>();
    for (const r of hooks.received) bodies.set(r.id, (bodies.get(r.id) ?? new Set()).add(r.body));
    for (const [id, set] of bodies) expect(set.size, `bodies of ${id}`).toBe(1);
    for (const r of after) expect(r.payload, `signature of ${r.id}`).toBeDefined();
    expect(new Set(after.map((r) => r.payload!.type))).toEqual(new Set(['register', 'email_verification_sent', 'login_success', 'refresh']));
    await expect.poll(async () => (await store.webhookCounts()).delivered, { timeout: 10_000 }).toBe(EVENTS);
    expect(second.output()).not.toContain(hooks.secret.slice('whsec_'.length));
  }, 150_000);
});
