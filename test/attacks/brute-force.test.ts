/**
 * Request floods against the real server with rate limits on (the test helper turns them
 * off by default): brute force on one account, credential stuffing from one address,
 * registration floods, refresh floods, X-Forwarded-For spoofing, the lockout's exemption for
 * the owner's known address, its expiry, and the audit trail of trips.
 */
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { loadConfig, type RateLimitConfig } from '../../src/config/config.js';
import { signUp, cookieHeader, refreshCookieOf } from '../http/contract.js';
import { GuardedClient } from './helpers.js';

// The real hashing pool, wrapped to count password verifications (never mocked away).
const verifications = vi.hoisted(() => ({ count: 0 }));
vi.mock('../../src/auth/hashing-pool.js', async (importOriginal) =>
  (await import('../helpers/counted-hashing.js')).countedHashing(importOriginal, (call) => {
    if (call !== 'hash') verifications.count++;
  }),
);

const PASSWORD = 'correct horse battery staple';
let n = 0;
const email = () => `victim${Date.now()}-${n++}@example.com`;

function limits(overrides: Partial<RateLimitConfig> = {}): RateLimitConfig {
  return { ...loadConfig({}).rateLimits, enabled: true, ...overrides };
}

async function startLimited(overrides: Partial<RateLimitConfig> = {}, extra: Record<string, unknown> = {}) {
  const t = await startTestServer({ rateLimits: limits(overrides), ...extra });
  return { t, c: new GuardedClient(t.baseUrl, [PASSWORD, Buffer.from(t.latchkey.config.secret!).toString('base64url')]) };
}

describe('attacks: brute force and floods reach 429', () => {
  describe('defaults (20 logins/IP, 5 failures/account, 10 registrations/IP per 60 s)', () => {
    let t: TestServer;
    let c: GuardedClient;
    beforeAll(async () => {
      ({ t, c } = await startLimited());
    });
    afterAll(async () => {
      await t?.close();
    });

    it('the documented defaults', () => {
      expect(t.latchkey.config.rateLimits).toMatchObject({
        enabled: true,
        loginPerIp: 20,
        loginPerAccount: 5,
        registerPerIp: 10,
        refreshPerSession: 120,
        windowSeconds: 60,
      });
    });

    it('brute force on one account: 5 wrong passwords are checked, the 6th attempt is 429 with Retry-After — even with the right password', async () => {
      const victim = email();
      // Registered through the service so the per-IP registration budget stays untouched.
      await t.latchkey.auth.register(victim, PASSWORD, { ip: '198.51.100.1', userAgent: null });
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        statuses.push((await c.post('/auth/login', { body: { email: victim, password: `guess number ${i}` } })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
      const locked = await c.post('/auth/login', { body: { email: victim, password: PASSWORD } });
      expect([locked.status, locked.body.error]).toEqual([429, 'RATE_LIMITED']);
      const retryAfter = Number(locked.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    });

    it('an unknown e-mail is locked exactly like a real one (a 429 reveals nothing)', async () => {
      const ghost = email();
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await c.post('/auth/login', { body: { email: ghost, password: `guess number ${i}` } })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    });

    it('concurrent guesses cannot slip past the account limit', async () => {
      const victim = email();
      await t.latchkey.auth.register(victim, PASSWORD, { ip: '198.51.100.1', userAgent: null });
      // 12 parallel guesses from 12 different addresses (through the service, as a proxy would pass them).
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => t.latchkey.auth.login(victim, `parallel guess ${i}`, { ip: `198.51.100.${10 + i}`, userAgent: null })),
      );
      const codes = results.map((r) => (r.status === 'rejected' ? (r.reason as { code: string }).code : 'OK'));
      expect(codes.filter((code) => code === 'INVALID_CREDENTIALS')).toHaveLength(5);
      expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(7);
    });
  });

  it('acceptance 2: 50 wrong passwords on one account from one IP within a minute: at most 20 evaluated, the rest 429; the owner signs in from that IP after the cool-down', async () => {
    const { t, c } = await startLimited();
    try {
      const { windowSeconds, loginPerAccount } = t.latchkey.config.rateLimits;
      const victim = email();
      const owner = await t.latchkey.auth.register(victim, PASSWORD, { ip: '198.51.100.1', userAgent: null });
      verifications.count = 0;
      // 50 guesses from 127.0.0.1 in 10 concurrent batches of 5; the test clock stands still,
      // so all of them fall within one minute.
      const answers: Awaited<ReturnType<typeof c.post>>[] = [];
      for (let batch = 0; batch < 10; batch++) {
        answers.push(
          ...(await Promise.all(
            Array.from({ length: 5 }, (_, i) => c.post('/auth/login', { body: { email: victim, password: `wrong guess ${batch}-${i}` } })),
          )),
        );
      }
      expect(answers).toHaveLength(50);
      const evaluated = answers.filter((res) => res.status === 401);
      const refused = answers.filter((res) => res.status !== 401);
      // Evaluated = reached password verification: counted by the hashing pool and by the audit log.
      const failures = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.type === 'login_failure' && e.userId === owner.id);
      console.info(
        `[brute-force] 50 guesses: ${evaluated.length} answered 401, ${verifications.count} verifications, ${failures.length} login_failure events, ${refused.length} × 429`,
      );
      expect(verifications.count).toBeLessThanOrEqual(20);
      expect(verifications.count).toBe(evaluated.length);
      expect(failures).toHaveLength(evaluated.length);
      expect(evaluated.length).toBe(loginPerAccount); // the documented lockout (5), well under 20
      for (const res of evaluated) expect(res.body.error).toBe('INVALID_CREDENTIALS');
      for (const res of refused) {
        expect([res.status, res.body.error]).toEqual([429, 'RATE_LIMITED']);
        const retryAfter = Number(res.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
      }
      // During the cool-down even the right password waits, and is not checked.
      verifications.count = 0;
      t.clock.advance(windowSeconds * 1000 - 1000);
      expect((await c.post('/auth/login', { body: { email: victim, password: PASSWORD } })).status).toBe(429);
      expect(verifications.count).toBe(0);
      // The documented cool-down (docs/security.md): the window the first guess opened, 60 s.
      t.clock.advance(1000);
      const ok = await c.post('/auth/login', { body: { email: victim, password: PASSWORD } });
      expect(ok.status).toBe(200);
      expect(typeof ok.body.accessToken).toBe('string');
    } finally {
      await t.close();
    }
  });

  it('credential stuffing from one address: 20 attempts over many accounts, then 429; X-Forwarded-For does not help', async () => {
    const { t, c } = await startLimited();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 24; i++) {
        const res = await c.post('/auth/login', {
          body: { email: email(), password: `leaked password ${i}` },
          // Spoofed: trustProxy is off, so the socket address is what counts.
          headers: { 'x-forwarded-for': `203.0.113.${i}`, 'x-real-ip': `203.0.113.${i}`, forwarded: `for=203.0.113.${i}` },
        });
        statuses.push(res.status);
      }
      expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(20)).toEqual([429, 429, 429, 429]);
      // One trip audited for the IP bucket, not one per refused request.
      const trips = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.type === 'rate_limited');
      expect(trips).toHaveLength(1);
      expect(trips[0]).toMatchObject({ ip: '127.0.0.1', detail: { scope: 'login_ip', limit: 20, windowSeconds: 60 } });
      // The window ends: the address may try again.
      t.clock.advance(61_000);
      expect((await c.post('/auth/login', { body: { email: email(), password: 'after the window' } })).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('with LATCHKEY_TRUST_PROXY on, X-Forwarded-For is the client address (and only then)', async () => {
    const { t, c } = await startLimited({ loginPerIp: 3 }, { trustProxy: true });
    try {
      const from = (ip: string) =>
        c.post('/auth/login', { body: { email: email(), password: 'leaked password' }, headers: { 'x-forwarded-for': ip } });
      expect([(await from('203.0.113.1')).status, (await from('203.0.113.1')).status, (await from('203.0.113.1')).status]).toEqual([401, 401, 401]);
      expect((await from('203.0.113.1')).status).toBe(429);
      expect((await from('203.0.113.2')).status).toBe(401);
      // IPv6 clients are counted by their /64: rotating the interface id does not help.
      for (let i = 1; i <= 3; i++) expect((await from(`2001:db8:1:2::${i}`)).status).toBe(401);
      expect((await from('2001:db8:1:2:ffff::9')).status).toBe(429);
      expect((await from('2001:db8:1:3::1')).status).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('the owner at an address they signed in from before is not locked out by an attacker elsewhere; the lock ends with its window', async () => {
    const { t, c } = await startLimited({}, { trustProxy: true });
    try {
      const victim = email();
      const as = (ip: string, password: string) => c.post('/auth/login', { body: { email: victim, password }, headers: { 'x-forwarded-for': ip } });
      expect(
        (await c.post('/auth/register', { body: { email: victim, password: PASSWORD }, headers: { 'x-forwarded-for': '192.0.2.1' } })).status,
      ).toBe(201);
      expect((await as('192.0.2.1', PASSWORD)).status).toBe(200); // the owner's usual address becomes known
      for (let i = 0; i < 5; i++) expect((await as(`203.0.113.${50 + i}`, `attacker guess ${i}`)).status).toBe(401);
      expect((await as('203.0.113.99', PASSWORD)).status).toBe(429); // a new address: locked
      expect((await as('192.0.2.1', PASSWORD)).status).toBe(200); // the owner's known address: not locked
      const audit = await t.latchkey.store.listAudit({ limit: 1000 });
      const trip = audit.find((e) => e.type === 'rate_limited' && e.detail?.scope === 'login_account');
      expect(trip?.detail?.account).toMatch(/^[0-9a-f]{16}$/);
      expect(JSON.stringify(audit)).not.toContain(victim);
      // After the window the account is open from anywhere again.
      t.clock.advance(61_000);
      expect((await as('203.0.113.99', PASSWORD)).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('guessing the current password with a stolen access token shares the login budget', async () => {
    const { t, c } = await startLimited();
    try {
      const user = await signUp(c);
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await c.post('/auth/password', {
          bearer: user.accessToken,
          body: { currentPassword: `guess number ${i}`, newPassword: 'attacker chosen passphrase' },
        });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
      // The same (account, address) budget: signing in from here waits too.
      const locked = await c.post('/auth/login', { body: { email: user.email, password: user.password } });
      expect(locked.status).toBe(429);
    } finally {
      await t.close();
    }
  });

  it('registration flood: 10 per address, then 429', async () => {
    const { t, c } = await startLimited();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 13; i++) statuses.push((await c.post('/auth/register', { body: { email: email(), password: PASSWORD } })).status);
      expect(statuses).toEqual([...Array(10).fill(201), 429, 429, 429]);
    } finally {
      await t.close();
    }
  });

  it('refresh: at least 60 per session per minute always pass; past the limit 429 keeps the cookie and the session', async () => {
    const { t, c } = await startLimited({ refreshPerSession: 60 });
    try {
      const user = await signUp(c);
      let token = user.refreshToken;
      for (let i = 0; i < 60; i++) {
        const res = await c.post('/auth/refresh', { cookie: cookieHeader(token) });
        expect(res.status).toBe(200);
        token = refreshCookieOf(res)!.value;
        c.guard(token);
      }
      const limited = await c.post('/auth/refresh', { cookie: cookieHeader(token) });
      expect([limited.status, limited.body.error]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(refreshCookieOf(limited)).toBeUndefined(); // not cleared: the token is still good
      t.clock.advance(61_000);
      expect((await c.post('/auth/refresh', { cookie: cookieHeader(token) })).status).toBe(200);
      // Junk refresh tokens are counted per address.
      const junk: number[] = [];
      for (let i = 0; i < 62; i++) junk.push((await c.post('/auth/refresh', { cookie: cookieHeader(`junk-${i}`) })).status);
      expect(junk.slice(0, 60).every((s) => s === 401)).toBe(true);
      expect(junk.slice(60)).toEqual([429, 429]);
    } finally {
      await t.close();
    }
  });

  it('LATCHKEY_RATE_LIMIT_REFRESH_SESSION below 60 per minute is refused at start-up', () => {
    expect(() => loadConfig({ LATCHKEY_RATE_LIMIT_REFRESH_SESSION: '59' })).toThrow(/LATCHKEY_RATE_LIMIT_REFRESH_SESSION/);
    expect(() => loadConfig({ LATCHKEY_RATE_LIMIT_WINDOW: '120', LATCHKEY_RATE_LIMIT_REFRESH_SESSION: '119' })).toThrow(/REFRESH_SESSION/);
    expect(loadConfig({ LATCHKEY_RATE_LIMIT_REFRESH_SESSION: '60' }).rateLimits.refreshPerSession).toBe(60);
    expect(() => loadConfig({ LATCHKEY_RATE_LIMIT_REDIS_FAILURE: 'maybe' })).toThrow(/LATCHKEY_RATE_LIMIT_REDIS_FAILURE/);
    expect(loadConfig({ LATCHKEY_RATE_LIMITS: 'off' }).rateLimits.enabled).toBe(false);
  });

  it('LATCHKEY_RATE_LIMITS=off: no limit at all', async () => {
    const t = await startTestServer(); // the helper's default
    try {
      for (let i = 0; i < 30; i++)
        expect((await t.client.post('/auth/login', { body: { email: 'x@example.com', password: `guess ${i} guess` } })).status).toBe(401);
    } finally {
      await t.close();
    }
  });
});
