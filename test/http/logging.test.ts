/**
 * Logs of a whole flow contain no password, token, cookie or key, and one line per request.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { Writable } from 'node:stream';
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
    t = await startTestServer({ logStream });
    const secrets: string[] = [];
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
    await new Promise((resolve) => setTimeout(resolve, 50));

    const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(8); // register, login, refresh, me ×2, failed login, password, logout
    expect(requests.map((r) => r.path)).toContain('/auth/refresh');
    const all = lines.join('\n');
    for (const secret of secrets) expect(all).not.toContain(secret);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(all.toLowerCase()).not.toContain('cookie');
    expect(all.toLowerCase()).not.toContain('authorization');
  });
});
