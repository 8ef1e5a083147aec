/**
 * The HTTP contract suite (docs/http-api.md) over real sockets. Exported as a function
 * so the same assertions run against every way of serving the API: the standalone server,
 * the Express router, the Fastify plugin, on SQLite and on PostgreSQL.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ROTATION_MIN_NEXT_AGE_SECONDS } from '../../src/keys/keyring.js';
import { createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import type { Latchkey, LatchkeyOptions } from '../../src/latchkey.js';
import type { TestClock } from '../helpers/clock.js';
import type { TestClient, TestResponse } from '../helpers/http-client.js';

export interface ContractTarget {
  client: TestClient;
  latchkey: Latchkey;
  clock: TestClock;
  close(): Promise<void>;
}

export type StartTarget = (options?: LatchkeyOptions) => Promise<ContractTarget>;

const COOKIE = '__Secure-refreshToken';
const ORIGIN = 'http://localhost:3000';
export const PASSWORD = 'correct horse battery staple';
let counter = 0;
const uniqueEmail = () => `user${Date.now()}-${counter++}@example.com`;

export function refreshCookieOf(response: TestResponse, name = COOKIE) {
  return response.cookies.find((c) => c.name === name);
}

/** Registers and logs in a fresh user; returns the tokens and cookie header. */
export async function signUp(client: TestClient, email = uniqueEmail(), password = PASSWORD) {
  const registered = await client.post('/auth/register', { body: { email, password } });
  expect(registered.status).toBe(201);
  const login = await client.post('/auth/login', { body: { email, password } });
  expect(login.status).toBe(200);
  const cookie = refreshCookieOf(login);
  expect(cookie).toBeDefined();
  return {
    email,
    password,
    userId: registered.body.user.id as string,
    accessToken: login.body.accessToken as string,
    refreshToken: cookie!.value,
  };
}

export const cookieHeader = (token: string, name = COOKIE) => `${name}=${token}`;

export function expectError(response: TestResponse, status: number, code: string) {
  expect({ status: response.status, error: response.body?.error }).toEqual({ status, error: code });
  expect(typeof response.body.message).toBe('string');
}

export function runHttpContract(label: string, start: StartTarget): void {
  describe(`HTTP contract — ${label}`, () => {
    let t: ContractTarget;
    beforeAll(async () => {
      t = await start();
    });
    afterAll(async () => {
      await t?.close();
    });

    describe('POST /auth/register', () => {
      it('creates a user: 201 {user:{id,email,role,emailVerified}}, e-mail trimmed and lower-cased', async () => {
        const email = uniqueEmail();
        const res = await t.client.post('/auth/register', { body: { email: `  ${email.toUpperCase()} `, password: PASSWORD } });
        expect(res.status).toBe(201);
        expect(res.body).toEqual({ user: { id: expect.any(String), email, role: 'user', emailVerified: false } });
      });

      it('409 EMAIL_TAKEN for an existing e-mail in another case', async () => {
        const email = uniqueEmail();
        await t.client.post('/auth/register', { body: { email, password: PASSWORD } });
        expectError(await t.client.post('/auth/register', { body: { email: email.toUpperCase(), password: PASSWORD } }), 409, 'EMAIL_TAKEN');
      });

      it('422 WEAK_PASSWORD below 8 and above 256 code points (counted after NFC)', async () => {
        expectError(await t.client.post('/auth/register', { body: { email: uniqueEmail(), password: 'short12' } }), 422, 'WEAK_PASSWORD');
        expectError(await t.client.post('/auth/register', { body: { email: uniqueEmail(), password: 'a'.repeat(257) } }), 422, 'WEAK_PASSWORD');
        // 8 emoji are 16 UTF-16 units but 8 code points: allowed.
        const emoji = await t.client.post('/auth/register', { body: { email: uniqueEmail(), password: '🔑'.repeat(8) } });
        expect(emoji.status).toBe(201);
        // 400 code points as sent, 200 after NFC ("e" + combining acute → "é"): allowed.
        const combining = await t.client.post('/auth/register', { body: { email: uniqueEmail(), password: 'e\u0301'.repeat(200) } });
        expect(combining.status).toBe(201);
      });

      it('400 VALIDATION_FAILED for missing fields, wrong types and bad e-mails', async () => {
        expectError(await t.client.post('/auth/register', { body: { password: PASSWORD } }), 400, 'VALIDATION_FAILED');
        expectError(await t.client.post('/auth/register', { body: { email: 42, password: PASSWORD } }), 400, 'VALIDATION_FAILED');
        expectError(await t.client.post('/auth/register', { body: { email: 'not-an-email', password: PASSWORD } }), 400, 'VALIDATION_FAILED');
        expectError(await t.client.post('/auth/register', { body: { email: uniqueEmail(), password: 12345678 } }), 400, 'VALIDATION_FAILED');
      });
    });

    describe('POST /auth/login', () => {
      it('200 {accessToken, tokenType, expiresIn} and the refresh cookie with the contract attributes', async () => {
        const email = uniqueEmail();
        await t.client.post('/auth/register', { body: { email, password: PASSWORD } });
        const res = await t.client.post('/auth/login', { body: { email, password: PASSWORD } });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: t.latchkey.config.accessTokenTtl });
        const cookie = refreshCookieOf(res)!;
        expect(cookie.attributes).toMatchObject({ httponly: true, secure: true, samesite: 'Strict', path: '/auth' });
        const { refreshTokenTtl, sessionMaxAge } = t.latchkey.config;
        expect(Number(cookie.attributes['max-age'])).toBe(Math.min(refreshTokenTtl, sessionMaxAge));
        expect(cookie.value.split('.').length).toBe(1); // opaque, never a JWT
        expect(res.headers.get('cache-control')).toBe('no-store');
      });

      it('401 INVALID_CREDENTIALS with the same body for an unknown user and a wrong password', async () => {
        const { email } = await signUp(t.client);
        const wrong = await t.client.post('/auth/login', { body: { email, password: 'wrong password!' } });
        const unknown = await t.client.post('/auth/login', { body: { email: uniqueEmail(), password: 'wrong password!' } });
        expectError(wrong, 401, 'INVALID_CREDENTIALS');
        expect(unknown.text).toBe(wrong.text);
        expect(unknown.status).toBe(wrong.status);
      });

      it('401 INVALID_CREDENTIALS for a password longer than 256 code points (never hashed)', async () => {
        const { email } = await signUp(t.client);
        expectError(await t.client.post('/auth/login', { body: { email, password: 'x'.repeat(5000) } }), 401, 'INVALID_CREDENTIALS');
      });

      it('400 VALIDATION_FAILED without a password', async () => {
        expectError(await t.client.post('/auth/login', { body: { email: uniqueEmail() } }), 400, 'VALIDATION_FAILED');
      });

      it('body transport: refresh token in the JSON body and no cookie', async () => {
        const { email } = await signUp(t.client);
        const res = await t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: { 'x-latchkey-transport': 'body' } });
        expect(res.status).toBe(200);
        expect(res.body.refreshToken).toEqual(expect.any(String));
        expect(res.cookies).toEqual([]);
        const refreshed = await t.client.post('/auth/refresh', {
          body: { refreshToken: res.body.refreshToken },
          headers: { 'x-latchkey-transport': 'body' },
        });
        expect(refreshed.status).toBe(200);
        expect(refreshed.body.refreshToken).not.toBe(res.body.refreshToken);
        expect(refreshed.cookies).toEqual([]);
        // Logout takes the token from the body too, and sets no cookie.
        const presented = { body: { refreshToken: refreshed.body.refreshToken }, headers: { 'x-latchkey-transport': 'body' } };
        const out = await t.client.post('/auth/logout', presented);
        expect(out.status).toBe(200);
        expect(out.cookies).toEqual([]);
        expectError(await t.client.post('/auth/refresh', presented), 401, 'INVALID_REFRESH_TOKEN');
      });

      it('body transport carries no ambient credential, so the cross-site check does not apply', async () => {
        const { email } = await signUp(t.client);
        const body = { email, password: PASSWORD };
        const foreign = { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };
        expectError(await t.client.post('/auth/login', { body, headers: foreign }), 403, 'CSRF_REJECTED');
        const res = await t.client.post('/auth/login', { body, headers: { ...foreign, 'x-latchkey-transport': 'body' } });
        expect(res.status).toBe(200);
        expect(res.cookies).toEqual([]);
      });
    });

    describe('POST /auth/refresh', () => {
      it('200 with a new access token and a rotated cookie', async () => {
        const user = await signUp(t.client);
        const res = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: t.latchkey.config.accessTokenTtl });
        const rotated = refreshCookieOf(res)!;
        expect(rotated.value).not.toBe(user.refreshToken);
        expect(rotated.attributes).toMatchObject({ httponly: true, secure: true, samesite: 'Strict', path: '/auth' });
      });

      it('401 NO_REFRESH_TOKEN without a cookie', async () => {
        expectError(await t.client.post('/auth/refresh'), 401, 'NO_REFRESH_TOKEN');
      });

      it('401 INVALID_REFRESH_TOKEN for a forged or tampered token, and the cookie is cleared', async () => {
        const user = await signUp(t.client);
        const tampered = user.refreshToken.slice(0, -2) + (user.refreshToken.endsWith('AA') ? 'BA' : 'AA');
        for (const token of ['junk', tampered, user.accessToken]) {
          const res = await t.client.post('/auth/refresh', { cookie: cookieHeader(token) });
          expectError(res, 401, 'INVALID_REFRESH_TOKEN');
          expect(refreshCookieOf(res)?.attributes['max-age']).toBe('0');
        }
      });

      it('grace window: the previous token returns the same current token, nothing revoked', async () => {
        const user = await signUp(t.client);
        const first = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
        t.clock.advance(2_000);
        const again = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
        expect(again.status).toBe(200);
        expect(refreshCookieOf(again)!.value).toBe(refreshCookieOf(first)!.value);
        const next = await t.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(first)!.value) });
        expect(next.status).toBe(200);
      });

      it('reuse after the grace window: 401 REFRESH_TOKEN_REUSED and the newest token dies too', async () => {
        const user = await signUp(t.client);
        const first = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
        const newest = refreshCookieOf(first)!.value;
        t.clock.advance((t.latchkey.config.refreshGrace + 1) * 1000);
        const replay = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
        expectError(replay, 401, 'REFRESH_TOKEN_REUSED');
        expect(refreshCookieOf(replay)?.attributes['max-age']).toBe('0');
        expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(newest) }), 401, 'REFRESH_TOKEN_REUSED');
      });

      it('401 SESSION_EXPIRED after the idle timeout', async () => {
        const user = await signUp(t.client);
        t.clock.advance(t.latchkey.config.refreshTokenTtl * 1000 + 1);
        const res = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
        expectError(res, 401, 'SESSION_EXPIRED');
        expect(refreshCookieOf(res)?.attributes['max-age']).toBe('0');
      });

      it('403 CSRF_REJECTED for a foreign Origin or Sec-Fetch-Site: cross-site; same origin and no Origin pass', async () => {
        const user = await signUp(t.client);
        const cookie = cookieHeader(user.refreshToken);
        expectError(await t.client.post('/auth/refresh', { cookie, headers: { origin: 'https://evil.example' } }), 403, 'CSRF_REJECTED');
        expectError(await t.client.post('/auth/refresh', { cookie, headers: { 'sec-fetch-site': 'cross-site' } }), 403, 'CSRF_REJECTED');
        expectError(
          await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD }, headers: { origin: 'null' } }),
          403,
          'CSRF_REJECTED',
        );
        expectError(await t.client.post('/auth/logout', { cookie, headers: { origin: 'https://evil.example' } }), 403, 'CSRF_REJECTED');
        const ok = await t.client.post('/auth/refresh', { cookie, headers: { origin: ORIGIN, 'sec-fetch-site': 'same-origin' } });
        expect(ok.status).toBe(200);
      });
    });

    describe('POST /auth/logout', () => {
      it('200, cookie cleared, session revoked: its tokens get INVALID_REFRESH_TOKEN', async () => {
        const user = await signUp(t.client);
        const res = await t.client.post('/auth/logout', { cookie: cookieHeader(user.refreshToken) });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ message: expect.any(String) });
        expect(refreshCookieOf(res)?.attributes['max-age']).toBe('0');
        expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) }), 401, 'INVALID_REFRESH_TOKEN');
      });

      it('a spent token of the session still logs it out', async () => {
        const user = await signUp(t.client);
        const rotated = refreshCookieOf(await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) }))!.value;
        expect((await t.client.post('/auth/logout', { cookie: cookieHeader(user.refreshToken) })).status).toBe(200);
        expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(rotated) }), 401, 'INVALID_REFRESH_TOKEN');
      });

      it('200 without any cookie', async () => {
        expect((await t.client.post('/auth/logout')).status).toBe(200);
      });
    });

    describe('bearer routes', () => {
      it('GET /auth/me: 200 {id,email,role,emailVerified}', async () => {
        const user = await signUp(t.client);
        const res = await t.client.get('/auth/me', { bearer: user.accessToken });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ id: user.userId, email: user.email, role: 'user', emailVerified: false });
      });

      it('401 MISSING_TOKEN with a bare realm challenge (RFC 6750 §3.1)', async () => {
        const res = await t.client.get('/auth/me');
        expectError(res, 401, 'MISSING_TOKEN');
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="latchkey"');
      });

      it('401 INVALID_TOKEN with error="invalid_token" for junk, tampered and refresh tokens', async () => {
        const user = await signUp(t.client);
        const [h, p, s] = user.accessToken.split('.');
        const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
        const elevated = Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url');
        for (const token of ['junk', `${h}.${elevated}.${s}`, user.refreshToken]) {
          const res = await t.client.get('/auth/me', { bearer: token });
          expectError(res, 401, 'INVALID_TOKEN');
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="latchkey", error="invalid_token"/);
        }
      });

      it('401 TOKEN_EXPIRED once exp has passed (beyond the clock tolerance)', async () => {
        const user = await signUp(t.client);
        t.clock.advance((t.latchkey.config.accessTokenTtl + 61) * 1000);
        const res = await t.client.get('/auth/me', { bearer: user.accessToken });
        expectError(res, 401, 'TOKEN_EXPIRED');
        expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      });

      it('GET /auth/sessions lists live sessions with `current`, expiresAt by the dead-sessions rule of docs/http-api.md', async () => {
        const user = await signUp(t.client);
        const other = await t.client.post('/auth/login', {
          body: { email: user.email, password: PASSWORD },
          headers: { 'user-agent': 'second-device' },
        });
        const res = await t.client.get('/auth/sessions', { bearer: user.accessToken });
        expect(res.status).toBe(200);
        expect(res.body.sessions).toHaveLength(2);
        const current = res.body.sessions.filter((s: any) => s.current);
        expect(current).toHaveLength(1);
        const second = res.body.sessions.find((s: any) => s.userAgent === 'second-device');
        expect(second).toMatchObject({ current: false, id: expect.any(String), ip: expect.any(String) });
        const { refreshTokenTtl, sessionMaxAge } = t.latchkey.config;
        const expected = Date.parse(second.lastUsedAt) + Math.min(refreshTokenTtl, sessionMaxAge) * 1000;
        expect(Date.parse(second.expiresAt)).toBe(expected);
        for (const s of res.body.sessions) for (const f of ['createdAt', 'lastUsedAt', 'expiresAt']) expect(s[f]).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
        expect(other.status).toBe(200);
      });

      it('DELETE /auth/sessions/:id: 204, that refresh token stops working; 404 for unknown and for another user', async () => {
        const user = await signUp(t.client);
        const second = await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
        const list = await t.client.get('/auth/sessions', { bearer: user.accessToken });
        const target = list.body.sessions.find((s: any) => !s.current);
        const res = await t.client.delete(`/auth/sessions/${target.id}`, { bearer: user.accessToken });
        expect(res.status).toBe(204);
        expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(second)!.value) }), 401, 'INVALID_REFRESH_TOKEN');
        expectError(await t.client.delete(`/auth/sessions/${target.id}`, { bearer: user.accessToken }), 404, 'NOT_FOUND');
        const stranger = await signUp(t.client);
        const mine = (await t.client.get('/auth/sessions', { bearer: user.accessToken })).body.sessions[0];
        expectError(await t.client.delete(`/auth/sessions/${mine.id}`, { bearer: stranger.accessToken }), 404, 'NOT_FOUND');
        expectError(await t.client.delete('/auth/sessions/00000000-0000-4000-8000-000000000000', { bearer: user.accessToken }), 404, 'NOT_FOUND');
      });

      it('POST /auth/logout-all revokes every session; the access token then gets SESSION_REVOKED there', async () => {
        const user = await signUp(t.client);
        const second = await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
        const res = await t.client.post('/auth/logout-all', { bearer: user.accessToken });
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ message: expect.any(String), revokedSessions: 2 });
        expect(refreshCookieOf(res)?.attributes['max-age']).toBe('0');
        for (const token of [user.refreshToken, refreshCookieOf(second)!.value]) {
          expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(token) }), 401, 'INVALID_REFRESH_TOKEN');
        }
        const again = await t.client.post('/auth/logout-all', { bearer: user.accessToken });
        expectError(again, 401, 'SESSION_REVOKED');
        expect(again.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
        expectError(await t.client.get('/auth/sessions', { bearer: user.accessToken }), 401, 'SESSION_REVOKED');
        expectError(await t.client.post('/auth/logout-all'), 401, 'MISSING_TOKEN');
        // GET /auth/me is stateless: the token is good until it expires.
        expect((await t.client.get('/auth/me', { bearer: user.accessToken })).status).toBe(200);
      });

      it('POST /auth/password: 200, other sessions revoked, this one kept, new password works', async () => {
        const user = await signUp(t.client);
        const second = await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
        const newPassword = 'a whole new passphrase';
        expectError(
          await t.client.post('/auth/password', { bearer: user.accessToken, body: { currentPassword: 'wrong wrong', newPassword } }),
          401,
          'INVALID_CREDENTIALS',
        );
        expectError(
          await t.client.post('/auth/password', { bearer: user.accessToken, body: { currentPassword: PASSWORD, newPassword: 'short' } }),
          422,
          'WEAK_PASSWORD',
        );
        const res = await t.client.post('/auth/password', { bearer: user.accessToken, body: { currentPassword: PASSWORD, newPassword } });
        expect(res.status).toBe(200);
        expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(second)!.value) }), 401, 'INVALID_REFRESH_TOKEN');
        expect((await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) })).status).toBe(200);
        expectError(await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } }), 401, 'INVALID_CREDENTIALS');
        expect((await t.client.post('/auth/login', { body: { email: user.email, password: newPassword } })).status).toBe(200);
        expectError(await t.client.post('/auth/password', { body: { currentPassword: PASSWORD, newPassword } }), 401, 'MISSING_TOKEN');
      });

      it('a refresh re-reads the role from the store', async () => {
        const user = await signUp(t.client);
        await t.latchkey.store.updateUserRole(user.userId, 'admin', t.clock.now());
        const res = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
        const claims = JSON.parse(Buffer.from(res.body.accessToken.split('.')[1], 'base64url').toString());
        expect(claims.role).toBe('admin');
      });
    });

    describe('tokens and JWKS', () => {
      it('access tokens verify with jose against the served JWKS and carry the contract claims', async () => {
        const user = await signUp(t.client);
        const jwks = await t.client.get('/.well-known/jwks.json');
        expect(jwks.status).toBe(200);
        for (const key of jwks.body.keys) {
          for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) expect(key).not.toHaveProperty(priv);
          expect(key.kid).toEqual(expect.any(String));
        }
        const { payload, protectedHeader } = await jwtVerify(user.accessToken, createLocalJWKSet(jwks.body), {
          issuer: t.latchkey.config.issuer,
          audience: t.latchkey.config.audience,
          typ: 'at+jwt',
          currentDate: new Date(t.clock.now()),
        });
        expect(protectedHeader).toEqual({ alg: t.latchkey.config.signingAlg, kid: expect.any(String), typ: 'at+jwt' });
        expect(Object.keys(payload).sort()).toEqual(['acr', 'amr', 'aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'role', 'sid', 'sub']);
        expect(payload).toMatchObject({ amr: ['pwd'], acr: 'aal1' });
        expect(payload.auth_time).toBe(payload.iat);
        expect(payload.sub).toBe(user.userId);
        expect(payload.exp! - payload.iat!).toBe(t.latchkey.config.accessTokenTtl);
      });

      it('discovery names the issuer exactly, the JWKS, the signing algorithm, and no OAuth endpoint', async () => {
        for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
          const res = await t.client.get(path);
          expect(res.status, path).toBe(200);
          expect(res.headers.get('content-type'), path).toMatch(/^application\/json/);
          expect(res.body, path).toEqual({
            issuer: t.latchkey.config.issuer,
            jwks_uri: `${t.latchkey.config.issuer}/.well-known/jwks.json`,
            response_types_supported: [],
            grant_types_supported: [],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: [t.latchkey.config.signingAlg],
          });
        }
      });

      it('the JWKS and discovery documents: readable from any origin, an ETag, 304 on a matching If-None-Match', async () => {
        const paths = ['/.well-known/jwks.json', '/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];
        for (const path of paths) {
          const first = await t.client.get(path, { headers: { origin: 'https://verifier.example' } });
          expect(first.status, path).toBe(200);
          expect(first.headers.get('access-control-allow-origin'), path).toBe('*');
          expect(first.headers.get('cache-control'), path).toBe('public, max-age=300');
          const etag = first.headers.get('etag')!;
          expect(etag, path).toMatch(/^"[\w-]{22}"$/);
          expect((await t.client.get(path)).headers.get('etag'), path).toBe(etag); // the same bytes, the same tag
          for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
            const cached = await t.client.get(path, { headers: { 'if-none-match': ifNoneMatch } });
            expect(cached.status, `${path} ${ifNoneMatch}`).toBe(304);
            expect(cached.text, path).toBe('');
            expect(cached.headers.get('etag'), path).toBe(etag);
            expect(cached.headers.get('access-control-allow-origin'), path).toBe('*');
            expect(cached.headers.get('cache-control'), path).toBe('public, max-age=300');
          }
          expect((await t.client.get(path, { headers: { 'if-none-match': '"not-it"' } })).status, path).toBe(200);
        }
      });

      it('a rotation promotes the key published ahead as `next`; old tokens verify until they expire', async () => {
        const user = await signUp(t.client);
        const oldKid = decodeProtectedHeader(user.accessToken).kid;
        const publishedBefore = (await t.client.get('/.well-known/jwks.json')).body.keys.map((k: any) => k.kid);
        expect(publishedBefore).toHaveLength(2);
        t.clock.advance(ROTATION_MIN_NEXT_AGE_SECONDS * 1000); // the next key must have been published this long
        const newKid = await t.latchkey.keys.rotate();
        // The key that signs now was in the JWKS before it signed anything.
        expect(publishedBefore).toEqual(expect.arrayContaining([oldKid, newKid]));
        const after = await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
        expect(decodeProtectedHeader(after.body.accessToken).kid).toBe(newKid);
        const kids = (await t.client.get('/.well-known/jwks.json')).body.keys.map((k: any) => k.kid);
        expect(kids).toHaveLength(3);
        expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
        expect((await t.client.get('/auth/me', { bearer: user.accessToken })).status).toBe(200);
        t.clock.advance((t.latchkey.config.accessTokenTtl + 61) * 1000);
        await t.latchkey.keys.reload();
        const later = (await t.client.get('/.well-known/jwks.json')).body.keys.map((k: any) => k.kid);
        expect(later).toHaveLength(2);
        expect(later).toContain(newKid);
        expect(later).not.toContain(oldKid);
      });
    });

    describe('bodies and unknown routes', () => {
      const login = (options: Parameters<TestClient['post']>[1]) => t.client.post('/auth/login', options);
      it('415 for a non-JSON content type or a non-UTF-8 charset', async () => {
        expectError(
          await login({ rawBody: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
          415,
          'UNSUPPORTED_MEDIA_TYPE',
        );
        expectError(await login({ rawBody: '{}', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
        expectError(await login({ rawBody: '{}', headers: { 'content-type': 'application/json; charset=latin1' } }), 415, 'UNSUPPORTED_MEDIA_TYPE');
      });
      it('413 above 16,384 bytes', async () => {
        const big = JSON.stringify({ email: 'a@b.co', password: 'x'.repeat(16_400) });
        expectError(await login({ rawBody: big, headers: { 'content-type': 'application/json' } }), 413, 'PAYLOAD_TOO_LARGE');
      });
      it('400 for malformed JSON, non-object JSON and invalid UTF-8', async () => {
        const json = { 'content-type': 'application/json' };
        expectError(await login({ rawBody: '{"email":', headers: json }), 400, 'VALIDATION_FAILED');
        expectError(await login({ rawBody: '["a"]', headers: json }), 400, 'VALIDATION_FAILED');
        expectError(await login({ rawBody: 'null', headers: json }), 400, 'VALIDATION_FAILED');
        expectError(await login({ rawBody: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), headers: json }), 400, 'VALIDATION_FAILED');
      });
      it('404 NOT_FOUND in the error shape', async () => {
        expectError(await t.client.get('/auth/nope'), 404, 'NOT_FOUND');
      });
    });
  });

  describe(`HTTP contract — ${label} — configuration-dependent`, () => {
    it('429 RATE_LIMITED with Retry-After once an account has used its failed-login budget (limits on)', async () => {
      const target = await start({ rateLimits: { ...loadConfig({}).rateLimits, enabled: true } });
      try {
        const user = await signUp(target.client);
        const budget = loadConfig({}).rateLimits.loginPerAccount;
        for (let i = 0; i < budget; i++) {
          expectError(
            await target.client.post('/auth/login', { body: { email: user.email, password: 'wrong password!' } }),
            401,
            'INVALID_CREDENTIALS',
          );
        }
        const limited = await target.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
        expectError(limited, 429, 'RATE_LIMITED');
        expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      } finally {
        await target.close();
      }
    });

    it('403 SIGNUP_DISABLED when sign-up is off', async () => {
      const target = await start({ allowSignup: false });
      try {
        expectError(await target.client.post('/auth/register', { body: { email: uniqueEmail(), password: PASSWORD } }), 403, 'SIGNUP_DISABLED');
      } finally {
        await target.close();
      }
    });

    it('cookie without Secure and without the __Secure- prefix when LATCHKEY_COOKIE_SECURE=false', async () => {
      const target = await start({ cookieSecure: false });
      try {
        const email = uniqueEmail();
        await target.client.post('/auth/register', { body: { email, password: PASSWORD } });
        const res = await target.client.post('/auth/login', { body: { email, password: PASSWORD } });
        const cookie = refreshCookieOf(res, 'refreshToken')!;
        expect(cookie.attributes.secure).toBeUndefined();
        expect(cookie.attributes).toMatchObject({ httponly: true, samesite: 'Strict', path: '/auth' });
        const refreshed = await target.client.post('/auth/refresh', { cookie: cookieHeader(cookie.value, 'refreshToken') });
        expect(refreshed.status).toBe(200);
      } finally {
        await target.close();
      }
    });

    it('cookie Max-Age follows the absolute session lifetime when it comes first', async () => {
      const target = await start({ sessionMaxAge: 100, refreshTokenTtl: 1000 });
      try {
        const user = await signUp(target.client);
        target.clock.advance(40_000);
        const res = await target.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
        expect(refreshCookieOf(res)!.attributes['max-age']).toBe('60');
        target.clock.advance(61_000);
        expectError(await target.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(res)!.value) }), 401, 'SESSION_EXPIRED');
      } finally {
        await target.close();
      }
    });
  });
}
