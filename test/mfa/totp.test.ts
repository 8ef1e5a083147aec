/**
 * TOTP second factors over HTTP (docs/mfa.md), with codes computed in the test from the secret
 * the server handed out: the generator against the RFC 6238 Appendix B vectors; enrol, confirm,
 * the two-step login, replay refusal, the attempt limit of an mfaToken, recovery codes, removal
 * only at aal2, DPoP binding across both steps, the login rate limit, a password reset that
 * neither signs in nor removes the factor, and two instances on one PostgreSQL.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { matchTotp, timeStep, totpCode } from '../../src/auth/totp.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createTestSchema, describePostgres, type TestSchema } from '../helpers/postgres.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';
import type { TestClient, TestResponse } from '../helpers/http-client.js';
import { cookieHeader, expectError, PASSWORD, refreshCookieOf, signUp } from '../http/contract.js';
import { makeProof, proofKey } from '../dpop/helpers.js';
import { base32Decode } from '../helpers/base32.js';

const ISSUER = 'http://localhost:3000';
const BODY = { 'x-latchkey-transport': 'body' };

/** RFC 6238 as the RFC's reference code computes it (HMAC-SHA-1, dynamic truncation), independent of src/. */
function referenceTotp(secret: Buffer, unixSeconds: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[19]! & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits).padStart(digits, '0');
}

const claimsOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

describe('the TOTP generator', () => {
  // RFC 6238 Appendix B: 8-digit codes, one seed per hash.
  const sha1 = Buffer.from('12345678901234567890');
  const sha256 = Buffer.from('12345678901234567890123456789012');
  const sha512 = Buffer.from('1234567890123456789012345678901234567890123456789012345678901234');
  it.each([
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ])('RFC 6238 Appendix B at T = %i s', (seconds, one, two, five) => {
    const step = timeStep(seconds * 1000);
    expect(totpCode(sha1, step, 'sha1', 8)).toBe(one);
    expect(totpCode(sha256, step, 'sha256', 8)).toBe(two);
    expect(totpCode(sha512, step, 'sha512', 8)).toBe(five);
    // 6 digits are the last six of the 8-digit value (the same truncation, mod 10^6).
    expect(totpCode(sha1, step)).toBe(one.slice(2));
  });

  it('accepts the previous, current and next step; a clock 31 s off is accepted only when it lands within one step', () => {
    const secret = randomBytes(20);
    const at = 1_700_000_010_000; // 10 s into a step
    for (const offset of [-30, 0, 30]) expect(matchTotp(secret, referenceTotp(secret, at / 1000 + offset), at)).toBe(timeStep(at) + offset / 30);
    // 31 s slow from 10 s into a step: two steps back → refused; 31 s fast: the next step → accepted.
    expect(matchTotp(secret, referenceTotp(secret, at / 1000 - 31), at)).toBeUndefined();
    expect(matchTotp(secret, referenceTotp(secret, at / 1000 + 31), at)).toBe(timeStep(at) + 1);
    // 31 s slow from 29 s into a step is the previous step → accepted.
    const late = 1_700_000_009_000 + 20_000; // 29 s into a step
    expect(matchTotp(secret, referenceTotp(secret, late / 1000 - 31), late)).toBe(timeStep(late) - 1);
    expect(matchTotp(secret, referenceTotp(secret, at / 1000 + 60), at)).toBeUndefined();
    for (const junk of ['', '12345', '1234567', 'abcdef', ' 123456', '12345a']) expect(matchTotp(secret, junk, at)).toBeUndefined();
  });
});

/** A user with a confirmed TOTP factor: the secret, the recovery codes, an aal1 session. */
async function enrolled(t: TestServer, client: TestClient = t.client) {
  const user = await signUp(client);
  const enroll = await client.post('/auth/mfa/totp/enroll', { bearer: user.accessToken, body: { currentPassword: PASSWORD } });
  expect(enroll.status).toBe(200);
  const secret = base32Decode(enroll.body.secret);
  const confirm = await client.post('/auth/mfa/totp/confirm', {
    bearer: user.accessToken,
    body: { code: referenceTotp(secret, t.clock.now() / 1000) },
  });
  expect(confirm.status).toBe(200);
  // Each test starts on a fresh step: the confirm's step is spent.
  t.clock.advance(30_000);
  return { ...user, secret, enroll: enroll.body, recoveryCodes: confirm.body.recoveryCodes as string[] };
}

const login = (client: TestClient, email: string, headers: Record<string, string> = {}) =>
  client.post('/auth/login', { body: { email, password: PASSWORD }, headers });

function expectTokens(res: TestResponse, amr: string[]): Record<string, unknown> {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const claims = claimsOf(res.body.accessToken);
  expect(claims).toMatchObject({ amr, acr: 'aal2' });
  return claims;
}

describe('TOTP over HTTP (SQLite)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  const code = (secret: Buffer, offsetSeconds = 0) => referenceTotp(secret, t.clock.now() / 1000 + offsetSeconds);

  it('enrol → confirm → log out → login answers mfaRequired → verify gives amr [pwd, otp], acr aal2 and the refresh cookie', async () => {
    const user = await signUp(t.client);
    const enroll = await t.client.post('/auth/mfa/totp/enroll', { bearer: user.accessToken, body: { currentPassword: PASSWORD } });
    expect(enroll.status).toBe(200);
    expect(enroll.headers.get('cache-control')).toBe('no-store');
    const { secret, otpauthUrl, qrSvg } = enroll.body;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const url = new URL(otpauthUrl);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe(`/localhost:3000:${user.email}`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ secret, issuer: 'localhost:3000', algorithm: 'SHA1', digits: '6', period: '30' });
    expect(qrSvg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(qrSvg).toContain('<path');

    // Until confirmed, login is unchanged.
    const before = await login(t.client, user.email);
    expect(before.body.accessToken).toEqual(expect.any(String));

    const key = base32Decode(secret);
    expectError(await t.client.post('/auth/mfa/totp/confirm', { bearer: user.accessToken, body: { code: code(key, 90) } }), 401, 'INVALID_MFA_CODE');
    const confirm = await t.client.post('/auth/mfa/totp/confirm', { bearer: user.accessToken, body: { code: code(key) } });
    expect(confirm.status).toBe(200);
    const { recoveryCodes } = confirm.body;
    expect(recoveryCodes).toHaveLength(10);
    for (const c of recoveryCodes) expect(c).toMatch(/^[a-z2-7]{5}-[a-z2-7]{5}$/); // 10 base32 characters: 50 bits
    expect(new Set(recoveryCodes).size).toBe(10);
    // The confirming session stays aal1 and alive.
    expect((await t.client.get('/auth/sessions', { bearer: user.accessToken })).status).toBe(200);
    expectError(
      await t.client.post('/auth/mfa/totp/confirm', { bearer: user.accessToken, body: { code: code(key, 30) } }),
      409,
      'MFA_ALREADY_ENROLLED',
    );
    expectError(
      await t.client.post('/auth/mfa/totp/enroll', { bearer: user.accessToken, body: { currentPassword: PASSWORD } }),
      409,
      'MFA_ALREADY_ENROLLED',
    );

    expect((await t.client.post('/auth/logout', { cookie: cookieHeader(user.refreshToken) })).status).toBe(200);
    const first = await login(t.client, user.email);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), factors: ['totp'] });
    expect(first.headers.get('set-cookie')).toBeNull();
    expect(first.body.mfaToken.length).toBeGreaterThanOrEqual(43);

    // The confirm's step is spent: the same code (this step) is refused.
    expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: first.body.mfaToken, code: code(key) } }), 401, 'INVALID_MFA_CODE');
    t.clock.advance(30_000);
    const verified = await t.client.post('/auth/mfa/verify', { body: { mfaToken: first.body.mfaToken, code: code(key) } });
    const claims = expectTokens(verified, ['pwd', 'otp']);
    expect(claims.auth_time).toBe(Math.floor(t.clock.now() / 1000));
    expect(refreshCookieOf(verified)).toBeDefined();
    expect(verified.body.tokenType).toBe('Bearer');
    // The mfaToken was single use.
    expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: first.body.mfaToken, code: code(key, 30) } }), 401, 'MFA_TOKEN_INVALID');
    // The session's refresh keeps aal2.
    const refreshed = await t.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(verified)!.value) });
    expect(claimsOf(refreshed.body.accessToken)).toMatchObject({ amr: ['pwd', 'otp'], acr: 'aal2', auth_time: claims.auth_time });

    const types = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.userId === user.userId).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['mfa_enrolled', 'mfa_required', 'mfa_failed', 'mfa_verified']));
  });

  it('the same code a second time → 401 INVALID_MFA_CODE, also on a new login; an earlier step too', async () => {
    const user = await enrolled(t);
    const c = code(user.secret);
    const one = await login(t.client, user.email);
    expectTokens(await t.client.post('/auth/mfa/verify', { body: { mfaToken: one.body.mfaToken, code: c } }), ['pwd', 'otp']);
    const two = await login(t.client, user.email);
    expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: two.body.mfaToken, code: c } }), 401, 'INVALID_MFA_CODE');
    // The previous step is inside the window but earlier than the accepted one: refused.
    expectError(
      await t.client.post('/auth/mfa/verify', { body: { mfaToken: two.body.mfaToken, code: code(user.secret, -30) } }),
      401,
      'INVALID_MFA_CODE',
    );
    // The next step works (the token survived two wrong codes).
    expectTokens(await t.client.post('/auth/mfa/verify', { body: { mfaToken: two.body.mfaToken, code: code(user.secret, 30) } }), ['pwd', 'otp']);
  });

  it('5 wrong codes kill the mfaToken: the 6th answer is MFA_TOKEN_INVALID, even for the right code', async () => {
    const user = await enrolled(t);
    const { body } = await login(t.client, user.email);
    const right = code(user.secret);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 1; i <= 5; i++) {
      expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: wrong } }), 401, 'INVALID_MFA_CODE');
    }
    expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: right } }), 401, 'MFA_TOKEN_INVALID');
    // The right code was not spent by the dead token: a new login takes it.
    const again = await login(t.client, user.email);
    expectTokens(await t.client.post('/auth/mfa/verify', { body: { mfaToken: again.body.mfaToken, code: right } }), ['pwd', 'otp']);
    const failures = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.userId === user.userId && e.type === 'mfa_failed');
    expect(failures.map((e) => e.detail?.attempts)).toEqual([1, 2, 3, 4, 5]);
  });

  it('parallel wrong codes on one mfaToken count at most 5 times', async () => {
    const user = await enrolled(t);
    const { body } = await login(t.client, user.email);
    const right = code(user.secret);
    const wrong = right === '000000' ? '111111' : '000000';
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: wrong } })),
    );
    const codes = answers.map((a) => a.body.error);
    expect(codes.filter((c) => c === 'INVALID_MFA_CODE')).toHaveLength(5);
    expect(codes.filter((c) => c === 'MFA_TOKEN_INVALID')).toHaveLength(7);
  });

  it('an mfaToken expires after 5 minutes and is never an access or refresh token', async () => {
    const user = await enrolled(t);
    const { body } = await login(t.client, user.email, BODY);
    expectError(await t.client.get('/auth/me', { bearer: body.mfaToken }), 401, 'INVALID_TOKEN');
    expectError(await t.client.post('/auth/refresh', { headers: BODY, body: { refreshToken: body.mfaToken } }), 401, 'INVALID_REFRESH_TOKEN');
    t.clock.advance(5 * 60_000);
    expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: code(user.secret) } }), 401, 'MFA_TOKEN_INVALID');
    expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: 'made-up', code: code(user.secret) } }), 401, 'MFA_TOKEN_INVALID');
  });

  it('a recovery code works once, in any case and without its dash; recovery_code_used is audited', async () => {
    const user = await enrolled(t);
    const [recovery] = user.recoveryCodes;
    const first = await login(t.client, user.email);
    const typed = recovery!.replace('-', '').toUpperCase();
    const verified = await t.client.post('/auth/mfa/verify', { body: { mfaToken: first.body.mfaToken, recoveryCode: typed } });
    expectTokens(verified, ['pwd', 'otp']);
    const second = await login(t.client, user.email);
    expectError(
      await t.client.post('/auth/mfa/verify', { body: { mfaToken: second.body.mfaToken, recoveryCode: recovery! } }),
      401,
      'INVALID_MFA_CODE',
    );
    expectError(
      await t.client.post('/auth/mfa/verify', { body: { mfaToken: second.body.mfaToken, recoveryCode: 'aaaaa-bbbbb' } }),
      401,
      'INVALID_MFA_CODE',
    );
    expectTokens(await t.client.post('/auth/mfa/verify', { body: { mfaToken: second.body.mfaToken, recoveryCode: ` ${user.recoveryCodes[1]} ` } }), [
      'pwd',
      'otp',
    ]);
    const listed = await t.client.get('/auth/mfa', { bearer: verified.body.accessToken });
    expect(listed.body).toEqual({
      factors: [{ id: expect.any(String), type: 'totp', createdAt: expect.any(String), lastUsedAt: expect.any(String) }],
      recoveryCodesRemaining: 8,
    });
    const used = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.userId === user.userId && e.type === 'recovery_code_used');
    expect(used.map((e) => e.detail)).toEqual([{ remaining: 9 }, { remaining: 8 }]);
  });

  it('400 VALIDATION_FAILED without mfaToken, or with neither code nor recoveryCode; X-Latchkey-Transport: body works', async () => {
    const user = await enrolled(t);
    const { body } = await login(t.client, user.email, BODY);
    expectError(await t.client.post('/auth/mfa/verify', { body: { code: '123456' } }), 400, 'VALIDATION_FAILED');
    expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken } }), 400, 'VALIDATION_FAILED');
    expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: 123456 } }), 400, 'VALIDATION_FAILED');
    const verified = await t.client.post('/auth/mfa/verify', { headers: BODY, body: { mfaToken: body.mfaToken, code: code(user.secret) } });
    expectTokens(verified, ['pwd', 'otp']);
    expect(verified.body.refreshToken).toEqual(expect.any(String));
    expect(verified.headers.get('set-cookie')).toBeNull();
    const refreshed = await t.client.post('/auth/refresh', { headers: BODY, body: { refreshToken: verified.body.refreshToken } });
    expect(claimsOf(refreshed.body.accessToken)).toMatchObject({ acr: 'aal2' });
  });

  it('removing the factor with an aal1 token → 401 STEP_UP_REQUIRED with the RFC 9470 challenge; with aal2 → 204, and login is one step again', async () => {
    const user = await enrolled(t);
    const removeWith = (token: string) => t.client.delete('/auth/mfa/totp', { bearer: token });
    const refused = await removeWith(user.accessToken);
    expectError(refused, 401, 'STEP_UP_REQUIRED');
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="insufficient_user_authentication", acr_values="aal2"');
    const { body } = await login(t.client, user.email);
    const aal2 = await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: code(user.secret) } });
    expect((await removeWith(aal2.body.accessToken)).status).toBe(204);
    // Without a factor: 404, checked before the level.
    expectError(await removeWith(user.accessToken), 404, 'NOT_FOUND');
    expect((await login(t.client, user.email)).body.accessToken).toEqual(expect.any(String));
    const removed = (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => e.userId === user.userId && e.type === 'mfa_removed');
    expect(removed).toHaveLength(1);
    expect(await t.latchkey.store.countRecoveryCodes(user.userId)).toBe(0);
  });

  it('enrol needs the current password; confirm without an enrolment → 404; a new enrol replaces a pending secret', async () => {
    const user = await signUp(t.client);
    expectError(
      await t.client.post('/auth/mfa/totp/enroll', { bearer: user.accessToken, body: { currentPassword: 'not the password' } }),
      401,
      'INVALID_CREDENTIALS',
    );
    expectError(await t.client.post('/auth/mfa/totp/confirm', { bearer: user.accessToken, body: { code: '123456' } }), 404, 'NOT_FOUND');
    const first = await t.client.post('/auth/mfa/totp/enroll', { bearer: user.accessToken, body: { currentPassword: PASSWORD } });
    const second = await t.client.post('/auth/mfa/totp/enroll', { bearer: user.accessToken, body: { currentPassword: PASSWORD } });
    expect(second.body.secret).not.toBe(first.body.secret);
    expectError(
      await t.client.post('/auth/mfa/totp/confirm', { bearer: user.accessToken, body: { code: code(base32Decode(first.body.secret)) } }),
      401,
      'INVALID_MFA_CODE',
    );
    const ok = await t.client.post('/auth/mfa/totp/confirm', { bearer: user.accessToken, body: { code: code(base32Decode(second.body.secret)) } });
    expect(ok.status).toBe(200);
    expectError(await t.client.post('/auth/mfa/totp/enroll', { body: { currentPassword: PASSWORD } }), 401, 'MISSING_TOKEN');
  });

  it('DPoP: a login with a proof needs a proof by the same key at verify; the session is bound to it', async () => {
    const user = await enrolled(t);
    const key = proofKey('ES256');
    const other = proofKey('ES256');
    const now = () => t.clock.now() / 1000;
    const first = await login(t.client, user.email, { ...BODY, dpop: makeProof(key, 'POST', `${ISSUER}/auth/login`, now()) });
    const verify = (headers: Record<string, string>) =>
      t.client.post('/auth/mfa/verify', { headers: { ...BODY, ...headers }, body: { mfaToken: first.body.mfaToken, code: code(user.secret) } });
    expectError(await verify({}), 401, 'INVALID_DPOP_PROOF');
    expectError(await verify({ dpop: makeProof(other, 'POST', `${ISSUER}/auth/mfa/verify`, now()) }), 401, 'INVALID_DPOP_PROOF');
    expectError(await verify({ dpop: makeProof(key, 'POST', `${ISSUER}/auth/login`, now()) }), 401, 'INVALID_DPOP_PROOF');
    const bound = await verify({ dpop: makeProof(key, 'POST', `${ISSUER}/auth/mfa/verify`, now()) });
    const claims = expectTokens(bound, ['pwd', 'otp']);
    expect(bound.body.tokenType).toBe('DPoP');
    expect(claims.cnf).toEqual({ jkt: expect.any(String) });
    // Its refresh needs the key, as for any bound session.
    expectError(await t.client.post('/auth/refresh', { headers: BODY, body: { refreshToken: bound.body.refreshToken } }), 401, 'INVALID_DPOP_PROOF');
  });

  it('nothing of the secret, a code or a recovery code is in the audit rows or the database outside the sealed secret', async () => {
    const user = await enrolled(t);
    const { body } = await login(t.client, user.email);
    await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, recoveryCode: user.recoveryCodes[3] } });
    const audit = JSON.stringify(await t.latchkey.store.listAudit({ limit: 1000 }));
    for (const secret of [user.enroll.secret, body.mfaToken, ...user.recoveryCodes, ...user.recoveryCodes.map((c) => c.replace('-', ''))]) {
      expect(audit).not.toContain(secret);
    }
    const factor = await t.latchkey.store.findTotpFactor(user.userId);
    expect(factor?.secretSealed).toMatch(/^v1\./);
    expect(factor?.secretSealed).not.toContain(user.enroll.secret);
    expect(Buffer.from(factor!.secretSealed).includes(user.secret)).toBe(false);
  });
});

describe('nothing of a TOTP secret, code or recovery code leaks: the whole log, audit rows, error bodies, a database copy', () => {
  let t: TestServer;
  const log: string[] = [];
  beforeAll(async () => {
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        log.push(chunk.toString());
        done();
      },
    });
    t = await startTestServer({ logStream });
  });
  afterAll(() => t.close());

  it('enrol, confirm, wrong and replayed codes, a recovery code, a TOTP login: none of the secrets is anywhere but the sealed column', async () => {
    const user = await enrolled(t);
    const secrets = new Set<string>([
      user.enroll.secret,
      user.secret.toString('hex'),
      user.secret.toString('base64'),
      user.secret.toString('base64url'),
      ...user.recoveryCodes,
      ...user.recoveryCodes.map((c) => c.replace('-', '')),
      ...user.recoveryCodes.map((c) => c.toUpperCase()),
    ]);
    const bodies: string[] = [];
    const first = await login(t.client, user.email);
    secrets.add(first.body.mfaToken);
    const wrong = String((Number(referenceTotp(user.secret, t.clock.now() / 1000)) + 1) % 1_000_000).padStart(6, '0');
    bodies.push((await t.client.post('/auth/mfa/verify', { body: { mfaToken: first.body.mfaToken, code: wrong } })).text);
    bodies.push((await t.client.post('/auth/mfa/verify', { body: { mfaToken: first.body.mfaToken, recoveryCode: 'zzzzz-zzzzz' } })).text);
    expect((await t.client.post('/auth/mfa/verify', { body: { mfaToken: first.body.mfaToken, recoveryCode: user.recoveryCodes[0] } })).status).toBe(
      200,
    );
    const second = await login(t.client, user.email);
    secrets.add(second.body.mfaToken);
    const code = referenceTotp(user.secret, t.clock.now() / 1000);
    expect((await t.client.post('/auth/mfa/verify', { body: { mfaToken: second.body.mfaToken, code } })).status).toBe(200);
    const third = await login(t.client, user.email);
    secrets.add(third.body.mfaToken);
    // The same code again: refused, and the refusal quotes nothing.
    const replay = await t.client.post('/auth/mfa/verify', { body: { mfaToken: third.body.mfaToken, code } });
    expect(replay.status).toBe(401);
    bodies.push(replay.text);
    const enrolAgain = await t.client.post('/auth/mfa/totp/enroll', { bearer: user.accessToken, body: { currentPassword: PASSWORD } });
    bodies.push(enrolAgain.text);

    const logText = log.join('');
    expect(logText.length).toBeGreaterThan(1000);
    const audit = JSON.stringify(await t.latchkey.store.listAudit({ limit: 1000 }));
    for (const secret of secrets) {
      expect(logText, 'log').not.toContain(secret);
      expect(audit, 'audit').not.toContain(secret);
      for (const body of bodies) expect(body, 'error body').not.toContain(secret);
    }
    // The six-digit codes are short: look for them where they could be quoted, as values.
    for (const digits of [code, wrong]) {
      expect(logText).not.toMatch(new RegExp(`[^0-9]${digits}[^0-9]`));
      expect(audit).not.toContain(`"${digits}"`);
      for (const body of bodies) expect(body).not.toContain(digits);
    }

    // A copy of the database (WAL included): no value in any table, read as a TOTP secret in any
    // encoding, gives this account's codes; no recovery code or mfaToken is in it at all.
    const dbFile = join(t.dir, 'latchkey.db');
    const copy = new Database(dbFile, { readonly: true });
    const raw = Buffer.concat([await readFile(dbFile), await readFile(`${dbFile}-wal`).catch(() => Buffer.alloc(0))]);
    try {
      for (const secret of secrets) expect(raw.includes(secret)).toBe(false);
      expect(raw.includes(user.secret)).toBe(false);
      const tables = copy.prepare(`select name from sqlite_master where type = 'table'`).pluck().all() as string[];
      const now = t.clock.now() / 1000;
      const want = [referenceTotp(user.secret, now), referenceTotp(user.secret, now + 30)];
      let candidates = 0;
      for (const table of tables) {
        for (const row of copy.prepare(`select * from "${table}"`).all() as Record<string, unknown>[]) {
          for (const value of Object.values(row)) {
            if (typeof value !== 'string' || value.length < 8) continue;
            const keys: Buffer[] = [
              Buffer.from(value),
              Buffer.from(value, 'base64url'),
              ...value.split('.').map((part) => Buffer.from(part, 'base64url')),
            ];
            try {
              keys.push(base32Decode(value.toUpperCase()));
            } catch {
              // not base32
            }
            for (const key of keys) {
              candidates++;
              expect([referenceTotp(key, now), referenceTotp(key, now + 30)]).not.toEqual(want);
            }
          }
        }
      }
      expect(candidates).toBeGreaterThan(50);
    } finally {
      copy.close();
    }
  });
});

describe('wrong MFA codes count toward the login account limit', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ rateLimits: { ...loadConfig({}).rateLimits, enabled: true, loginPerAccount: 3, loginPerIp: 1000 } });
  });
  afterAll(() => t.close());

  it('password step + 2 wrong codes use the budget of 3: the next verify → 429 with Retry-After, the code unchecked', async () => {
    const user = await enrolled(t);
    const { body } = await login(t.client, user.email);
    expect(body.mfaRequired).toBe(true);
    const right = referenceTotp(user.secret, t.clock.now() / 1000);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 0; i < 2; i++)
      expectError(await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: wrong } }), 401, 'INVALID_MFA_CODE');
    const limited = await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: right } });
    expectError(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // After the window, the same token (still alive) and code succeed, and the success forgives the attempts.
    t.clock.advance(61_000);
    const fresh = referenceTotp(user.secret, t.clock.now() / 1000);
    expectTokens(await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: fresh } }), ['pwd', 'otp']);
  });
});

describe('a password reset on an account with TOTP', () => {
  let smtp: TestSmtp;
  let t: TestServer;
  beforeAll(async () => {
    smtp = await startSmtp();
    t = await startTestServer({ smtpUrl: smtp.url });
  });
  afterAll(async () => {
    await t?.close();
    await smtp?.stop();
  });

  it('never yields tokens with the new password alone, and the factor is still there', async () => {
    const user = await enrolled(t);
    expect((await t.client.post('/auth/password/forgot', { body: { email: user.email } })).status).toBe(202);
    const deadline = Date.now() + 20_000;
    let token: string | undefined;
    while (!token && Date.now() < deadline) {
      const mail = smtp.received.find((m) => m.rcptTo.includes(user.email) && /Reset your password/.test(m.parsed.subject ?? ''));
      token = mail && /#token=([A-Za-z0-9_-]+)/.exec(mail.parsed.text ?? '')?.[1];
      if (!token) await new Promise((r) => setTimeout(r, 25));
    }
    const newPassword = 'a new passphrase after the reset';
    const reset = await t.client.post('/auth/password/reset', { body: { token, newPassword } });
    expect(reset.status).toBe(200);
    expect(reset.body).toEqual({ message: expect.any(String) });
    expect(reset.headers.get('set-cookie')).toBeNull();
    const after = await t.client.post('/auth/login', { body: { email: user.email, password: newPassword } });
    expect(after.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), factors: ['totp'] });
    expect(after.headers.get('set-cookie')).toBeNull();
    expect((await t.latchkey.store.listFactors(user.userId)).map((f) => f.type)).toEqual(['totp']);
    expectTokens(
      await t.client.post('/auth/mfa/verify', { body: { mfaToken: after.body.mfaToken, code: referenceTotp(user.secret, t.clock.now() / 1000) } }),
      ['pwd', 'otp'],
    );
  });

  it('an mfaToken from before a password change is dead', async () => {
    const user = await enrolled(t);
    const { body } = await login(t.client, user.email);
    const changed = await t.client.post('/auth/password', {
      bearer: user.accessToken,
      body: { currentPassword: PASSWORD, newPassword: 'yet another new passphrase' },
    });
    expect(changed.status).toBe(200);
    expectError(
      await t.client.post('/auth/mfa/verify', { body: { mfaToken: body.mfaToken, code: referenceTotp(user.secret, t.clock.now() / 1000) } }),
      401,
      'MFA_TOKEN_INVALID',
    );
  });
});

await describePostgres('two instances on one PostgreSQL', () => {
  let schema: TestSchema;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    schema = await createTestSchema();
    const secret = new Uint8Array(randomBytes(32));
    a = await startTestServer({ databaseUrl: schema.url, secret });
    b = await startTestServer({ databaseUrl: schema.url, secret });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await schema?.drop();
  });

  it('a TOTP code used on A is refused on B; an mfaToken from A works on B', async () => {
    const user = await enrolled(a);
    b.clock.set(a.clock.now());
    const c = referenceTotp(user.secret, a.clock.now() / 1000);
    const onA = await login(a.client, user.email);
    expectTokens(await a.client.post('/auth/mfa/verify', { body: { mfaToken: onA.body.mfaToken, code: c } }), ['pwd', 'otp']);
    const onB = await login(b.client, user.email);
    expectError(await b.client.post('/auth/mfa/verify', { body: { mfaToken: onB.body.mfaToken, code: c } }), 401, 'INVALID_MFA_CODE');

    a.clock.advance(30_000);
    b.clock.set(a.clock.now());
    const fromA = await login(a.client, user.email);
    const next = referenceTotp(user.secret, b.clock.now() / 1000);
    const onBWithA = await b.client.post('/auth/mfa/verify', { body: { mfaToken: fromA.body.mfaToken, code: next } });
    expectTokens(onBWithA, ['pwd', 'otp']);
    // …and it is spent on A too.
    expectError(await a.client.post('/auth/mfa/verify', { body: { mfaToken: fromA.body.mfaToken, code: next } }), 401, 'MFA_TOKEN_INVALID');
  });

  it('the same code sent to both instances at once is accepted once', async () => {
    const user = await enrolled(a);
    b.clock.set(a.clock.now());
    const c = referenceTotp(user.secret, a.clock.now() / 1000);
    const tokens = await Promise.all([
      login(a.client, user.email),
      login(b.client, user.email),
      login(a.client, user.email),
      login(b.client, user.email),
    ]);
    const answers = await Promise.all(
      tokens.map((l, i) => (i % 2 === 0 ? a : b).client.post('/auth/mfa/verify', { body: { mfaToken: l.body.mfaToken, code: c } })),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401, 401, 401]);
  });
});
