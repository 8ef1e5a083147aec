/**
 * A provider that is down or answers after 10 s: the server starts and stays healthy (discovery
 * is fetched on the first sign-in, not at start), the start answers 503 UNAVAILABLE and the
 * callback #error=OAUTH_FAILED within the configured timeout (LATCHKEY_OAUTH_TIMEOUT, 1 s here),
 * and a provider that comes back works without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startStandInIssuer, type StandInIssuer } from './stand-ins.js';
import { authorize, callback, sessionCount, start } from './helpers.js';

let slow: StandInIssuer;
let t: TestServer;
let downIssuer: string;

beforeAll(async () => {
  slow = await startStandInIssuer();
  downIssuer = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  t = await startTestServer({
    oauthTimeout: 1,
    oidcProviders: [
      { id: 'down', issuer: downIssuer, clientId: 'c', clientSecret: 's' },
      { id: 'slow', issuer: slow.issuer, clientId: slow.clientId, clientSecret: slow.clientSecret },
    ],
  });
});
afterAll(async () => {
  await t.close();
  await slow.close();
});

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe('a provider that is down or slow', () => {
  it('does not keep the server from starting or answering health checks', async () => {
    expect((await t.client.get('/healthz')).status).toBe(200);
    expect((await t.client.get('/auth/providers')).body.providers.map((p: { id: string }) => p.id)).toEqual(['down', 'slow']);
  });

  it('down: the start answers 503 UNAVAILABLE at once, no flow cookie', async () => {
    const { value, ms } = await timed(() => start(t, 'down'));
    expect([value.status, value.body.error]).toEqual([503, 'UNAVAILABLE']);
    expect(value.flowCookie).toBeUndefined();
    expect(ms).toBeLessThan(1500);
  });

  it('slow (10 s) discovery: the start answers 503 UNAVAILABLE within the timeout while /healthz answers at once', async () => {
    slow.delayMs = 10_000;
    slow.delayPaths = ['/.well-known/openid-configuration'];
    try {
      const pending = timed(() => start(t, 'slow'));
      const health = await timed(() => t.client.get('/healthz'));
      expect(health.value.status).toBe(200);
      expect(health.ms).toBeLessThan(500);
      const { value, ms } = await pending;
      expect([value.status, value.body.error]).toEqual([503, 'UNAVAILABLE']);
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(2500);
    } finally {
      slow.delayMs = 0;
    }
  });

  it('comes back: the next start fetches discovery again and works', async () => {
    const answer = await start(t, 'slow');
    expect(answer.status).toBe(302);
  });

  it('slow (10 s) token endpoint: the callback answers #error=OAUTH_FAILED within the timeout, no session', async () => {
    const started = await start(t, 'slow', { redirect: '/after' });
    const back = await authorize(started.location!);
    slow.delayMs = 10_000;
    slow.delayPaths = ['/token'];
    try {
      const before = sessionCount(t);
      const { value, ms } = await timed(() => callback(t, back, started.flowCookie));
      expect(value.location).toBe('/after#error=OAUTH_FAILED');
      expect(ms).toBeLessThan(2500);
      expect(sessionCount(t)).toBe(before);
      expect((await t.client.get('/healthz')).status).toBe(200);
    } finally {
      slow.delayMs = 0;
    }
  });

  it('slow (10 s) JWKS: the callback gives up within the timeout too', async () => {
    // A fresh server: its openid-client has no JWKS cached yet.
    const fresh = await startTestServer({
      oauthTimeout: 1,
      oidcProviders: [{ id: 'slow', issuer: slow.issuer, clientId: slow.clientId, clientSecret: slow.clientSecret }],
    });
    try {
      const started = await start(fresh, 'slow', { redirect: '/after' });
      const back = await authorize(started.location!);
      slow.delayMs = 10_000;
      slow.delayPaths = ['/jwks'];
      const { value, ms } = await timed(() => callback(fresh, back, started.flowCookie));
      expect(value.location).toBe('/after#error=OAUTH_FAILED');
      expect(ms).toBeLessThan(2500);
    } finally {
      slow.delayMs = 0;
      await fresh.close();
    }
  });
});
