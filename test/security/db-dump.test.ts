/**
 * docs/architecture.md#refresh-tokens: a copy of the database taken while the server runs
 * holds no refresh token, no password and no usable private key. The test does what an
 * attacker with the copy would do, and checks that each attempt fails.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { copyFile, readFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import { createHmac, createPrivateKey, sign as cryptoSign } from 'node:crypto';
import Database from 'better-sqlite3';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp, cookieHeader, refreshCookieOf } from '../http/contract.js';

describe('database dump', () => {
  let t: TestServer;
  const passwords = ['first user passphrase', 'second user passphrase!'];
  const refreshTokens: string[] = [];
  const accessTokens: string[] = [];
  let dump: Buffer;
  let copy: Database.Database;

  beforeAll(async () => {
    t = await startTestServer();
    for (const password of passwords) {
      const user = await signUp(t.client, undefined, password);
      refreshTokens.push(user.refreshToken);
      accessTokens.push(user.accessToken);
      const rotated = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
      refreshTokens.push(refreshCookieOf(rotated)!.value);
      accessTokens.push(rotated.body.accessToken);
    }
    await t.latchkey.keys.rotate({ force: true }); // seconds after start-up: past the age rule
    // Copy while the server runs, WAL included (an attacker copies the directory).
    const db = join(t.dir, 'latchkey.db');
    const target = join(t.dir, 'stolen.db');
    await copyFile(db, target);
    try {
      await access(`${db}-wal`);
      await copyFile(`${db}-wal`, `${target}-wal`);
    } catch {
      /* no WAL content at this instant */
    }
    dump = Buffer.concat([await readFile(target), await readFile(`${target}-wal`).catch(() => Buffer.alloc(0))]);
    copy = new Database(target, { readonly: false });
  });

  afterAll(async () => {
    copy?.close();
    await t?.close();
  });

  it('contains no refresh token, no password and no access token, in any encoding', () => {
    for (const secret of [...refreshTokens, ...passwords, ...accessTokens]) {
      for (const form of [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')]) {
        expect(dump.includes(Buffer.from(form))).toBe(false);
      }
    }
    for (const token of refreshTokens) expect(dump.includes(Buffer.from(token, 'base64url'))).toBe(false);
  });

  it('contains no parseable private key', () => {
    expect(dump.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
    const rows = copy.prepare('SELECT * FROM signing_keys').all() as Record<string, unknown>[];
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const row of rows) {
      for (const value of Object.values(row)) {
        if (typeof value !== 'string') continue;
        const candidates = [value, ...value.split('.')];
        for (const candidate of candidates) {
          for (const attempt of [
            () => createPrivateKey(candidate),
            () => createPrivateKey({ key: Buffer.from(candidate, 'base64url'), format: 'der', type: 'pkcs8' }),
            () => createPrivateKey({ key: JSON.parse(candidate), format: 'jwk' }),
          ]) {
            expect(attempt).toThrow();
          }
        }
      }
    }
  });

  it('every value in the dump fails as an HMAC key for minting refresh tokens', async () => {
    const sessions = copy.prepare('SELECT id, counter FROM sessions').all() as { id: string; counter: number }[];
    const values = new Set<string>();
    for (const table of ['users', 'sessions', 'signing_keys']) {
      for (const row of copy.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[]) {
        for (const v of Object.values(row)) if (typeof v === 'string' && v.length >= 8) values.add(v);
      }
    }
    let attempts = 0;
    for (const session of sessions) {
      const body = Buffer.alloc(20);
      Buffer.from(session.id.replace(/-/g, ''), 'hex').copy(body, 0);
      body.writeUInt32BE(session.counter, 16);
      for (const key of [...values].slice(0, 12)) {
        const forged = Buffer.concat([body, createHmac('sha256', key).update(body).digest()]).toString('base64url');
        const res = await t.client.post('/auth/refresh', { cookie: cookieHeader(forged) });
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('INVALID_REFRESH_TOKEN');
        attempts++;
      }
    }
    expect(attempts).toBeGreaterThan(10);
  });

  it('the stored public keys cannot sign: a token "signed" with them is refused', async () => {
    const rows = copy.prepare('SELECT kid, public_jwk FROM signing_keys').all() as { kid: string; public_jwk: string }[];
    for (const row of rows) {
      const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: row.kid, typ: 'at+jwt' })).toString('base64url');
      const now = Math.floor(t.clock.now() / 1000);
      const payload = Buffer.from(
        JSON.stringify({ iss: t.latchkey.config.issuer, aud: 'latchkey', sub: 'x', sid: 'y', role: 'admin', iat: now, exp: now + 60 }),
      ).toString('base64url');
      const mac = createHmac('sha256', row.public_jwk).update(`${header}.${payload}`).digest('base64url');
      const res = await t.client.get('/auth/me', { bearer: `${header}.${payload}.${mac}` });
      expect(res.status).toBe(401);
    }
    expect(() => cryptoSign('sha256', Buffer.from('x'), { key: JSON.parse(rows[0]!.public_jwk), format: 'jwk' })).toThrow();
  });
});
