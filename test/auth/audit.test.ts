/**
 * Audit trail: every security-relevant action leaves an event in the store, and
 * `latchkey audit tail [--follow] [--limit N]` prints them as JSON lines with no secret.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { signUp, cookieHeader, refreshCookieOf } from '../http/contract.js';

describe('audit events', () => {
  let t: TestServer;
  let env: Record<string, string>;
  const secrets: string[] = [];
  let sessionOfReuse: string;
  let userEmail: string;

  beforeAll(async () => {
    t = await startTestServer({ refreshGrace: 0, rateLimits: { ...loadConfig({}).rateLimits, enabled: true, loginPerAccount: 2 } });
    env = {
      LATCHKEY_DATABASE_URL: t.latchkey.config.databaseUrl,
      LATCHKEY_SECRET: Buffer.from(t.latchkey.config.secret!).toString('base64url'),
    };
    secrets.push(env.LATCHKEY_SECRET!);

    const user = await signUp(t.client);
    userEmail = user.email;
    secrets.push(user.password, user.accessToken, user.refreshToken);
    // login failure, then a lockout trip
    const ghost = 'nobody-here@example.com';
    for (let i = 0; i < 3; i++) await t.client.post('/auth/login', { body: { email: ghost, password: 'wrong password attempt' } });
    // refresh, then reuse of the spent token
    const rotated = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
    secrets.push(refreshCookieOf(rotated)!.value, rotated.body.accessToken);
    const reused = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
    expect(reused.body.error).toBe('REFRESH_TOKEN_REUSED');
    sessionOfReuse = JSON.parse(Buffer.from(user.accessToken.split('.')[1]!, 'base64url').toString()).sid;
    // logout, password change, logout-all
    const second = await t.client.post('/auth/login', { body: { email: user.email, password: user.password } });
    secrets.push(second.body.accessToken, refreshCookieOf(second)!.value);
    await t.client.post('/auth/logout', { cookie: cookieHeader(refreshCookieOf(second)!.value) });
    const third = await t.client.post('/auth/login', { body: { email: user.email, password: user.password } });
    secrets.push(third.body.accessToken, 'a whole new passphrase');
    expect(
      (
        await t.client.post('/auth/password', {
          bearer: third.body.accessToken,
          body: { currentPassword: user.password, newPassword: 'a whole new passphrase' },
        })
      ).status,
    ).toBe(200);
    expect((await t.client.post('/auth/logout-all', { bearer: third.body.accessToken })).status).toBe(200);
    await t.latchkey.keys.rotate({ force: true }); // the next key is seconds old: the age rule is tested in test/jwks/rotation-delay.test.ts
  });
  afterAll(async () => {
    await t?.close();
  });

  it('records login success/failure, refresh, reuse (with session), logout, logout-all, password change, key rotation, rate-limit trips', async () => {
    const events = await t.latchkey.store.listAudit({ limit: 1000 });
    const types = new Set(events.map((e) => e.type));
    for (const type of [
      'register',
      'login_success',
      'login_failure',
      'refresh',
      'refresh_reuse_detected',
      'logout',
      'logout_all',
      'password_change',
      'key_rotated',
      'rate_limited',
    ]) {
      expect(types, type).toContain(type);
    }
    expect(events.find((e) => e.type === 'refresh_reuse_detected')!.sessionId).toBe(sessionOfReuse);
    expect(events.find((e) => e.type === 'rate_limited')!.detail).toMatchObject({ scope: 'login_account', limit: 2 });
    expect(events.find((e) => e.type === 'key_rotated')!.detail).toEqual({
      kid: expect.any(String),
      previous: expect.any(String),
      next: expect.any(String),
    });
    const text = JSON.stringify(events);
    for (const secret of [...secrets, userEmail, 'nobody-here@example.com'])
      expect(text.includes(secret), 'audit holds a secret or e-mail').toBe(false);
  });

  it('`latchkey audit tail --limit N` prints the latest N as JSON lines, oldest first, without secrets', async () => {
    const all = await runCli(['audit', 'tail', '--limit', '1000'], { env });
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    const lines = all.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.length).toBe((await t.latchkey.store.listAudit({ limit: 1000 })).length);
    expect(lines.at(-1)).toMatchObject({ type: 'key_rotated', at: expect.stringMatching(/Z$/) });
    for (const secret of [...secrets, userEmail]) expect(all.stdout.includes(secret)).toBe(false);
    const three = await runCli(['audit', 'tail', '-n', '3'], { env });
    expect(
      three.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).id),
    ).toEqual(lines.slice(-3).map((l) => l.id));
    expect((await runCli(['audit', 'tail', '--limit', '0'], { env })).code).toBe(2);
    expect((await runCli(['audit', 'head'], { env })).code).toBe(2);
  });

  it('`latchkey audit tail --follow` prints new events as they arrive and exits 0 on SIGTERM', async () => {
    const child = spawnCli(['audit', 'tail', '--follow', '--limit', '1'], { env });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const until = async (predicate: () => boolean) => {
      const deadline = Date.now() + 15_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out; got: ${out}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    await until(() => out.includes('key_rotated'));
    await t.latchkey.keys.rotate({ force: true });
    await until(() => out.trim().split('\n').length >= 2);
    expect(JSON.parse(out.trim().split('\n')[1]!)).toMatchObject({ type: 'key_rotated' });
    child.kill('SIGTERM');
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
  });
});
