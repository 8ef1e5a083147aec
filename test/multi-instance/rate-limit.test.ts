/**
 * Brute force split across two instances hits one shared limit (issue 3): with
 * `LATCHKEY_REDIS_URL`, the counters of the abuse defences (`src/auth/rate-limit.ts`) live in
 * Redis, so A and B together admit exactly what one instance would. With in-process counters
 * each instance would admit the full limit (twice as many guesses).
 *
 * Client addresses come from `X-Forwarded-For` (`LATCHKEY_TRUST_PROXY=true`, as behind a load
 * balancer), so each scenario has an address of its own.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeServices, PASSWORD, startCluster, uniqueEmail, type Cluster, type Instance } from './instances.js';
import type { TestResponse } from '../helpers/http-client.js';

const LOGIN_IP = 10;
const LOGIN_ACCOUNT = 4;

await describeServices('rate limits shared through Redis by two instances', { redis: true }, () => {
  let cluster: Cluster;
  let A: Instance;
  let B: Instance;

  beforeAll(async () => {
    cluster = await startCluster({
      env: {
        LATCHKEY_RATE_LIMITS: 'on',
        LATCHKEY_RATE_LIMIT_LOGIN_IP: String(LOGIN_IP),
        LATCHKEY_RATE_LIMIT_LOGIN_ACCOUNT: String(LOGIN_ACCOUNT),
        LATCHKEY_RATE_LIMIT_WINDOW: '60',
        LATCHKEY_TRUST_PROXY: 'true',
        // A prefix per cluster: runs never see each other's counters.
        LATCHKEY_REDIS_PREFIX: `lk_test_${Date.now()}_${process.pid}:`,
      },
    });
    [A, B] = cluster.instances as [Instance, Instance];
  }, 90_000);
  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  const login = (instance: Instance, ip: string, email: string, password = 'wrong password, surely') =>
    instance.client.post('/auth/login', { body: { email, password }, headers: { 'x-forwarded-for': ip } });

  function tally(responses: { instance: string; res: TestResponse }[]) {
    const counts: Record<string, number> = {};
    for (const { instance, res } of responses) {
      const key = `${instance}:${res.status}`;
      counts[key] = (counts[key] ?? 0) + 1;
      if (res.status === 429) {
        expect(res.body.error).toBe('RATE_LIMITED');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      } else {
        expect(res.body.error).toBe('INVALID_CREDENTIALS');
      }
    }
    return counts;
  }

  it(`wrong passwords for one account, alternating A and B: exactly ${LOGIN_ACCOUNT} are checked, then 429 on both`, async () => {
    const email = uniqueEmail();
    const registered = await A.client.post('/auth/register', {
      body: { email, password: PASSWORD },
      headers: { 'x-forwarded-for': '203.0.113.10' },
    });
    expect(registered.status).toBe(201);
    const responses: { instance: string; res: TestResponse }[] = [];
    for (let i = 0; i < 3 * LOGIN_ACCOUNT; i++) {
      const instance = i % 2 === 0 ? A : B;
      responses.push({ instance: instance.name, res: await login(instance, '203.0.113.11', email) });
    }
    const counts = tally(responses);
    expect((counts['A:401'] ?? 0) + (counts['B:401'] ?? 0)).toBe(LOGIN_ACCOUNT);
    expect(counts['A:429']).toBeGreaterThan(0);
    expect(counts['B:429']).toBeGreaterThan(0);
    // The right password is refused too while the account is locked, on either instance.
    for (const instance of [A, B]) expect((await login(instance, '203.0.113.11', email, PASSWORD)).status).toBe(429);
  });

  it(`attempts from one address against many accounts, split across A and B: exactly ${LOGIN_IP} pass the per-IP limit`, async () => {
    const responses = await Promise.all(
      Array.from({ length: LOGIN_IP + 6 }, async (_, i) => {
        const instance = i % 2 === 0 ? A : B;
        return { instance: instance.name, res: await login(instance, '203.0.113.20', uniqueEmail()) };
      }),
    );
    const counts = tally(responses);
    expect((counts['A:401'] ?? 0) + (counts['B:401'] ?? 0)).toBe(LOGIN_IP);
    expect((counts['A:429'] ?? 0) + (counts['B:429'] ?? 0)).toBe(6);
    // Another address is not affected.
    expect((await login(B, '203.0.113.21', uniqueEmail())).status).toBe(401);
  });
});
