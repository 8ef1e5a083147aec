/**
 * Two `latchkey serve` processes on one PostgreSQL database deliver the same outbox: every event
 * is accepted exactly once, no id is ever in flight twice at once (the receiver counts requests
 * in flight per id and answers slowly), a retry may come from either instance, and both work.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminQuery } from '../helpers/postgres.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';
import { describeServices, refresh, refreshTokenOf, signUp, startCluster, type Cluster, type Instance } from '../multi-instance/instances.js';

const EVENTS = 100;

await describeServices('webhooks from two instances on one PostgreSQL database', {}, () => {
  let cluster: Cluster;
  let hooks: Receiver;

  beforeAll(async () => {
    // The first attempt of every id is refused, slowly; the retry is accepted, slowly.
    hooks = await startReceiver({ answer: ({ seen }) => ({ status: seen === 1 ? 500 : 200, delayMs: 150 }) });
    cluster = await startCluster({
      env: { LATCHKEY_RATE_LIMITS: 'off', LATCHKEY_WEBHOOK_URL: hooks.url, LATCHKEY_WEBHOOK_SECRET: hooks.secret, LATCHKEY_LOG_LEVEL: 'warn' },
    });
  }, 90_000);

  afterAll(async () => {
    await cluster?.close();
    await hooks?.close();
  });

  it(`${EVENTS} events written on both instances: each accepted once, never two attempts of one id at once`, async () => {
    const [A, B] = cluster.instances as [Instance, Instance];
    const count = async () => Number((await adminQuery<{ n: string }>(`select count(*) as n from ${cluster.schema.schema}.audit_events`))[0]!.n);
    let { refreshToken } = await signUp(A.client, B.client);
    for (let i = 0; (await count()) < EVENTS; i++) {
      const next = await refresh(i % 2 ? A.client : B.client, refreshToken);
      expect(next.status).toBe(200);
      refreshToken = refreshTokenOf(next)!;
    }
    const ids = (await adminQuery<{ id: string }>(`select id from ${cluster.schema.schema}.audit_events order by id`)).map((r) => String(r.id));
    expect(ids).toHaveLength(EVENTS);

    await hooks.waitFor(() => new Set(hooks.delivered()).size === EVENTS, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // anything late would show now
    expect(hooks.delivered().sort()).toEqual([...ids].sort());
    expect(hooks.received.filter((r) => r.concurrent > 0)).toEqual([]);
    expect(hooks.received.every((r) => r.payload !== undefined)).toBe(true);
    const statuses = new Map<string, number[]>();
    for (const r of hooks.received) statuses.set(r.id, [...(statuses.get(r.id) ?? []), r.status]);
    for (const id of ids) expect(statuses.get(id), `attempts of ${id}`).toEqual([500, 200]);
    // Both workers took part: each logged some of the refused first attempts.
    const refusedBy = (i: Instance) => (i.output().match(/webhook not delivered yet/g) ?? []).length;
    expect(refusedBy(A)).toBeGreaterThan(0);
    expect(refusedBy(B)).toBeGreaterThan(0);
    expect(refusedBy(A) + refusedBy(B)).toBe(EVENTS);
  }, 120_000);
});
