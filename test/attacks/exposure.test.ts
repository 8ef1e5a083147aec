/**
 * What a shared cache or a stranger can read: the auth API's answers (the account, its sessions
 * with addresses, IPs and user agents) carry `Cache-Control: no-store`, so no proxy, CDN or
 * browser cache keeps them; `/metrics` (login counters, process details) can be closed with
 * `LATCHKEY_METRICS_TOKEN`, a bearer token compared in constant time, and is open otherwise (the
 * documented default).
 */
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp } from '../http/contract.js';
import { loadConfig } from '../../src/config/config.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdefghijklmnop';

describe('attacks: nothing private is cached, and /metrics can be closed', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('/auth/me, /auth/sessions and every other auth answer have Cache-Control: no-store', async () => {
    const user = await signUp(t.client);
    const bearer = user.accessToken;
    const answers = {
      me: await t.client.get('/auth/me', { bearer }),
      sessions: await t.client.get('/auth/sessions', { bearer }),
      register: await t.client.post('/auth/register', { body: { email: 'nostore@example.com', password: 'correct horse battery staple' } }),
      'logout-all': await t.client.post('/auth/logout-all', { bearer }),
    };
    for (const [name, res] of Object.entries(answers)) {
      expect(res.status, name).toBeLessThan(300);
      expect(res.headers.get('cache-control'), name).toBe('no-store');
    }
  });

  it('without LATCHKEY_METRICS_TOKEN /metrics is open (the documented default)', async () => {
    const res = await t.client.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('latchkey_logins_total');
  });

  describe('with LATCHKEY_METRICS_TOKEN', () => {
    let closed: TestServer;
    beforeAll(async () => {
      closed = await startTestServer({ metricsToken: loadConfig({ LATCHKEY_METRICS_TOKEN: METRICS_TOKEN }).metricsToken });
    });
    afterAll(async () => {
      await closed?.close();
    });

    it('no token, a wrong token, a prefix, a longer one, another scheme: 401 with the contract body, and no metric in it', async () => {
      const attempts: Array<[string, Record<string, string>, string]> = [
        ['none', {}, 'MISSING_TOKEN'],
        ['wrong', { authorization: `Bearer ${'x'.repeat(METRICS_TOKEN.length)}` }, 'INVALID_TOKEN'],
        ['prefix', { authorization: `Bearer ${METRICS_TOKEN.slice(0, -1)}` }, 'INVALID_TOKEN'],
        ['longer', { authorization: `Bearer ${METRICS_TOKEN}x` }, 'INVALID_TOKEN'],
        ['basic', { authorization: `Basic ${Buffer.from(`metrics:${METRICS_TOKEN}`).toString('base64')}` }, 'MISSING_TOKEN'],
        ['query', {}, 'MISSING_TOKEN'],
      ];
      for (const [name, headers, code] of attempts) {
        const res = await closed.client.get(name === 'query' ? `/metrics?token=${METRICS_TOKEN}` : '/metrics', { headers });
        expect([res.status, res.body?.error], name).toEqual([401, code]);
        expect(res.headers.get('www-authenticate'), name).toMatch(/^Bearer realm="latchkey"/);
        expect(res.headers.get('cache-control'), name).toBe('no-store');
        expect(res.text, name).not.toContain('latchkey_');
        expect(res.text, name).not.toContain(METRICS_TOKEN);
      }
    });

    it('the right token: 200 Prometheus text', async () => {
      const res = await closed.client.get('/metrics', { bearer: METRICS_TOKEN });
      expect(res.status).toBe(200);
      expect(res.text).toContain('latchkey_logins_total');
    });

    it('a short LATCHKEY_METRICS_TOKEN is refused at start, naming the variable', () => {
      expect(() => loadConfig({ LATCHKEY_METRICS_TOKEN: 'short' })).toThrow(/^LATCHKEY_METRICS_TOKEN: /);
    });
  });
});
