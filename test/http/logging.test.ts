/**
 * Logs of a whole flow contain no password, token, cookie, master secret or key, and one line per
 * request; an unexpected store failure answers `{error: 'INTERNAL', message}` with no stack (issue 2).
 */
import { describe, it, expect, afterAll, vi } from 'vitest';
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp, cookieHeader, refreshCookieOf } from './contract.js';

describe('request logging', () => {
  let t: TestServer | undefined;
  afterAll(async () => {
    await t?.close();
  });

  it('writes one line per request and never a secret', async () => {
    const lines: string[] = [];
    const logStream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    // The master secret as an operator sets it (LATCHKEY_SECRET, hex), decoded by the real config loader.
    const secretBytes = randomBytes(32);
    const masterSecret = secretBytes.toString('hex');
    t = await startTestServer({ logStream, secret: loadConfig({ LATCHKEY_SECRET: masterSecret }).secret });
    const secrets: string[] = [masterSecret, secretBytes.toString('base64'), secretBytes.toString('base64url')];
    const user = await signUp(t.client, undefined, 'a password to never log');
    secrets.push(user.password, user.accessToken, user.refreshToken);
    const refreshed = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
    secrets.push(refreshed.body.accessToken, refreshCookieOf(refreshed)!.value);
    await t.client.get('/auth/me', { bearer: refreshed.body.accessToken });
    await t.client.get('/auth/me', { bearer: 'garbage.token.value' });
    await t.client.post('/auth/login', { body: { email: user.email, password: 'wrong password attempt' } });
    secrets.push('wrong password attempt');
    await t.client.post('/auth/password', {
      bearer: refreshed.body.accessToken,
      body: { currentPassword: user.password, newPassword: 'the next secret password' },
    });
    secrets.push('the next secret password');
    await t.client.post('/auth/logout', { cookie: cookieHeader(refreshCookieOf(refreshed)!.value) });

    // A store that fails with an uncoded error (e.g. a driver bug) whose message quotes a secret.
    const leak = 'driver said: password=the next secret password';
    const spy = vi.spyOn(t.latchkey.store, 'findUserByEmail').mockRejectedValueOnce(new Error(leak));
    const failed = await t.client.post('/auth/login', { body: { email: user.email, password: 'the next secret password' } });
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    expect(failed.status).toBe(500);
    expect(Object.keys(failed.body).sort()).toEqual(['error', 'message']);
    expect(failed.body.error).toBe('INTERNAL');
    expect(typeof failed.body.message).toBe('string');
    const failedText = JSON.stringify(failed.body);
    expect(failedText).not.toContain('driver said');
    expect(failedText).not.toMatch(/\bat .+:\d+:\d+|stack|\.ts\b|\.js\b/);
    secrets.push(leak);
    await new Promise((resolve) => setTimeout(resolve, 50));

    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(9); // register, login, refresh, me ×2, failed login, password, logout, 500 login
    const logged = lines.map((l) => JSON.parse(l));
    expect(logged.some((l) => l.msg === 'request failed' && l.err?.type === 'Error')).toBe(true);
    expect(requests.map((r) => r.path)).toContain('/auth/refresh');
    const all = lines.join('\n');
    for (const secret of secrets) expect(all).not.toContain(secret);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(all.toLowerCase()).not.toContain('cookie');
    expect(all.toLowerCase()).not.toContain('authorization');
  });
});
