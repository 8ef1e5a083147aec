/**
 * Passkeys over HTTP (docs/mfa.md#passkeys) with a software authenticator written from the
 * WebAuthn spec (test/helpers/authenticator.ts): registration (aal2 once the account has a
 * factor, a random user handle), usernameless sign-in (hwk/swk, aal2 only with user
 * verification), the passkey as second factor after a password, listing and removal; refused
 * with 401 PASSKEY_INVALID: a replayed assertion, an expired challenge, another origin or RP id,
 * a forged signature, an unknown or deleted credential, another account's credential on the
 * second step, a sign counter that did not move forward (audited passkey_counter_regression).
 * Two instances on one PostgreSQL: a challenge from one is consumed on the other, once.
 * The Chromium test with a real (virtual) authenticator is test/browser/passkeys.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';
import { assert, register, type Credential } from '../helpers/authenticator.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createTestSchema, describePostgres, type TestSchema } from '../helpers/postgres.js';
import type { TestClient } from '../helpers/http-client.js';
import { expectError, PASSWORD, refreshCookieOf, signUp } from '../http/contract.js';
import { makeProof, proofKey } from '../dpop/helpers.js';

const ORIGIN = 'http://localhost:3000';
const BODY = { 'x-latchkey-transport': 'body' };
const claimsOf = (token: string): Record<string, any> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

/** Registers a passkey for the bearer of `accessToken`; returns the credential and the answer. */
async function addPasskey(client: TestClient, accessToken: string, flags = {}, name?: string) {
  const options = await client.post('/auth/passkeys/register/options', { bearer: accessToken });
  expect(options.status, JSON.stringify(options.body)).toBe(200);
  const { credential, response } = register(options.body, ORIGIN, flags);
  const verified = await client.post('/auth/passkeys/register/verify', { bearer: accessToken, body: { ...response, ...(name ? { name } : {}) } });
  expect(verified.status, JSON.stringify(verified.body)).toBe(201);
  return { credential, passkey: verified.body.passkey, options: options.body };
}

async function loginOptions(client: TestClient, mfaToken?: string) {
  const res = await client.post('/auth/passkeys/login/options', { body: mfaToken ? { mfaToken } : {} });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** A usernameless sign-in with `credential`. */
async function signIn(client: TestClient, credential: Credential, opts: Parameters<typeof assert>[3] = {}, headers: Record<string, string> = BODY) {
  const options = await loginOptions(client);
  const assertion = assert(credential, options, ORIGIN, opts);
  return { assertion, res: await client.post('/auth/passkeys/login/verify', { body: assertion, headers }) };
}

describe('passkeys over HTTP (SQLite)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());
  const auditOf = async (userId: string | null, type: string) =>
    (await t.latchkey.store.listAudit({ limit: 1000 })).filter((e) => (userId === null || e.userId === userId) && e.type === type);

  it('register → list → sign out → usernameless sign-in: amr [hwk], acr aal2, the refresh cookie; the login now asks for the second step', async () => {
    const user = await signUp(t.client);
    const { options, passkey, credential } = await addPasskey(t.client, user.accessToken, {}, 'Laptop');
    // WebAuthn L3 JSON: a resident key with user verification, a random user handle that is not the e-mail.
    expect(options).toMatchObject({
      rp: { id: 'localhost' },
      user: { name: user.email },
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      attestation: 'none',
    });
    expect(Buffer.from(options.user.id, 'base64url')).toHaveLength(32);
    expect(Buffer.from(options.user.id, 'base64url').toString('utf8')).not.toContain(user.email);
    expect(passkey).toEqual({ id: expect.any(String), name: 'Laptop', createdAt: new Date(t.clock.now()).toISOString(), lastUsedAt: null });

    const list = await t.client.get('/auth/passkeys', { bearer: user.accessToken });
    expect(list.body).toEqual({ passkeys: [passkey] });
    const factors = await t.client.get('/auth/mfa', { bearer: user.accessToken });
    expect(factors.body.factors).toEqual([expect.objectContaining({ id: passkey.id, type: 'webauthn' })]);

    await t.client.post('/auth/logout', { headers: BODY, body: { refreshToken: user.refreshToken } });
    const options2 = await loginOptions(t.client);
    expect(options2).toMatchObject({ rpId: 'localhost', userVerification: 'required', timeout: 300_000 });
    expect(options2).not.toHaveProperty('allowCredentials');
    const res = await t.client.post('/auth/passkeys/login/verify', { body: assert(credential, options2, ORIGIN) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(refreshCookieOf(res)).toBeDefined();
    expect(claimsOf(res.body.accessToken)).toMatchObject({
      sub: user.userId,
      amr: ['hwk'],
      acr: 'aal2',
      auth_time: Math.floor(t.clock.now() / 1000),
    });
    const me = await t.client.get('/auth/me', { bearer: res.body.accessToken });
    expect(me.body.email).toBe(user.email);
    expect((await t.client.get('/auth/passkeys', { bearer: res.body.accessToken })).body.passkeys[0].lastUsedAt).toBe(
      new Date(t.clock.now()).toISOString(),
    );

    const login = await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
    expect(login.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), factors: ['webauthn'] });
    expect((await auditOf(user.userId, 'passkey_registered'))[0]?.detail).toEqual({ passkeyId: passkey.id, deviceType: 'singleDevice' });
    expect((await auditOf(user.userId, 'login_success')).at(-1)?.detail).toEqual({ method: 'passkey' });
  });

  it('a backup-eligible (synced) credential signs in as swk; without user verification the session is aal1', async () => {
    const user = await signUp(t.client);
    const { credential } = await addPasskey(t.client, user.accessToken, { backupEligible: true });
    const synced = await signIn(t.client, credential);
    expect(claimsOf(synced.res.body.accessToken)).toMatchObject({ amr: ['swk'], acr: 'aal2' });
    const unverified = await signIn(t.client, credential, { flags: { uv: false } });
    expect(claimsOf(unverified.res.body.accessToken)).toMatchObject({ amr: ['swk'], acr: 'aal1' });
  });

  it('a replayed assertion → 401 PASSKEY_INVALID (the challenge is spent); so is a challenge older than 5 minutes', async () => {
    const user = await signUp(t.client);
    const { credential } = await addPasskey(t.client, user.accessToken);
    const first = await signIn(t.client, credential);
    expect(first.res.status).toBe(200);
    expectError(await t.client.post('/auth/passkeys/login/verify', { body: first.assertion, headers: BODY }), 401, 'PASSKEY_INVALID');
    const options = await loginOptions(t.client);
    t.clock.advance(5 * 60_000 + 1);
    expectError(
      await t.client.post('/auth/passkeys/login/verify', { body: assert(credential, options, ORIGIN), headers: BODY }),
      401,
      'PASSKEY_INVALID',
    );
    const reasons = (await auditOf(null, 'passkey_failed')).map((e) => e.detail);
    expect(reasons).toContainEqual({ stage: 'login', reason: 'challenge' });
  });

  it('another origin, another RP id, a forged signature, an unknown credential, junk → 401 PASSKEY_INVALID and nothing signed in', async () => {
    const user = await signUp(t.client);
    const { credential } = await addPasskey(t.client, user.accessToken);
    for (const opts of [{ origin: 'http://localhost:3001' }, { origin: 'https://evil.example' }, { rpId: 'evil.example' }]) {
      const { res } = await signIn(t.client, credential, opts);
      expectError(res, 401, 'PASSKEY_INVALID');
    }
    const options = await loginOptions(t.client);
    const forged = assert(credential, options, ORIGIN) as { response: { signature: string } };
    const signature = Buffer.from(forged.response.signature, 'base64url');
    signature[signature.length - 1]! ^= 1;
    forged.response.signature = signature.toString('base64url');
    expectError(await t.client.post('/auth/passkeys/login/verify', { body: forged, headers: BODY }), 401, 'PASSKEY_INVALID');
    // A stranger's authenticator: a credential the server never registered.
    const stranger = register({ challenge: 'x', rp: { id: 'localhost' }, user: { id: 'eA' } }, ORIGIN).credential;
    expectError((await signIn(t.client, stranger)).res, 401, 'PASSKEY_INVALID');
    const junk = { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: 'not-json' } };
    expectError(await t.client.post('/auth/passkeys/login/verify', { body: junk, headers: BODY }), 401, 'PASSKEY_INVALID');
    expectError(await t.client.post('/auth/passkeys/login/verify', { body: { id: 'a' }, headers: BODY }), 400, 'VALIDATION_FAILED');
    // The right assertion still works afterwards (the counter moved only on success).
    expect((await signIn(t.client, credential)).res.status).toBe(200);
    const reasons = (await auditOf(user.userId, 'passkey_failed')).map((e) => e.detail?.reason);
    expect(reasons).toEqual(['signature', 'signature', 'signature', 'signature']);
  });

  it('a cloned authenticator: a sign counter not greater than the stored one → 401 PASSKEY_INVALID, audited passkey_counter_regression; both 0 → no check', async () => {
    const user = await signUp(t.client);
    const { credential } = await addPasskey(t.client, user.accessToken);
    expect((await signIn(t.client, credential, { counter: 7 })).res.status).toBe(200);
    for (const counter of [7, 3, 0]) expectError((await signIn(t.client, credential, { counter })).res, 401, 'PASSKEY_INVALID');
    expect((await signIn(t.client, credential, { counter: 8 })).res.status).toBe(200);
    const regressions = await auditOf(user.userId, 'passkey_counter_regression');
    expect(regressions.map((e) => e.detail)).toEqual([
      { passkeyId: expect.any(String), stored: 7, presented: 7 },
      { passkeyId: expect.any(String), stored: 7, presented: 3 },
      { passkeyId: expect.any(String), stored: 7, presented: 0 },
    ]);

    const counterless = await signUp(t.client);
    const second = await addPasskey(t.client, counterless.accessToken);
    for (let i = 0; i < 2; i++) expect((await signIn(t.client, second.credential, { counter: 0 })).res.status).toBe(200);
  });

  it('second factor: login → mfaRequired → options {mfaToken} list the account’s credentials → verify gives amr [pwd, hwk], aal2', async () => {
    const user = await signUp(t.client);
    const { credential } = await addPasskey(t.client, user.accessToken);
    const other = await signUp(t.client);
    const foreign = await addPasskey(t.client, other.accessToken);
    const login = await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
    const { mfaToken } = login.body;
    const options = await loginOptions(t.client, mfaToken);
    expect(options.allowCredentials).toEqual([{ id: credential.id.toString('base64url'), type: 'public-key', transports: ['internal'] }]);
    // Another account's passkey, and a usernameless challenge, do not complete this login.
    expectError(
      await t.client.post('/auth/passkeys/login/verify', { body: { ...assert(foreign.credential, options, ORIGIN), mfaToken } }),
      401,
      'PASSKEY_INVALID',
    );
    const usernameless = await loginOptions(t.client);
    expectError(
      await t.client.post('/auth/passkeys/login/verify', { body: { ...assert(credential, usernameless, ORIGIN), mfaToken } }),
      401,
      'PASSKEY_INVALID',
    );
    const fresh = await loginOptions(t.client, mfaToken);
    const res = await t.client.post('/auth/passkeys/login/verify', { body: { ...assert(credential, fresh, ORIGIN), mfaToken } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(refreshCookieOf(res)).toBeDefined();
    expect(claimsOf(res.body.accessToken)).toMatchObject({ sub: user.userId, amr: ['pwd', 'hwk'], acr: 'aal2' });
    // The mfaToken is used up.
    expectError(await t.client.post('/auth/passkeys/login/options', { body: { mfaToken } }), 401, 'MFA_TOKEN_INVALID');
    expect((await auditOf(user.userId, 'mfa_verified')).at(-1)?.detail).toEqual({ method: 'passkey' });
    expect((await auditOf(user.userId, 'mfa_failed')).map((e) => e.detail)).toEqual([
      { stage: 'login', method: 'passkey', reason: 'credential', attempts: 1 },
      { stage: 'login', method: 'passkey', reason: 'challenge', attempts: 2 },
    ]);
    // A TOTP-only account has no passkey to list.
    expectError(await t.client.post('/auth/passkeys/login/options', { body: { mfaToken: 'nope' } }), 401, 'MFA_TOKEN_INVALID');
  });

  it('registering with a factor needs aal2: an aal1 token → 401 STEP_UP_REQUIRED; a passkey session (aal2) adds a second one with the same user handle', async () => {
    const user = await signUp(t.client);
    const { credential, options } = await addPasskey(t.client, user.accessToken);
    const aal1 = await t.client.post('/auth/passkeys/register/options', { bearer: user.accessToken });
    expectError(aal1, 401, 'STEP_UP_REQUIRED');
    expect(aal1.headers.get('www-authenticate')).toBe('Bearer error="insufficient_user_authentication", acr_values="aal2"');
    const { res } = await signIn(t.client, credential);
    const second = await addPasskey(t.client, res.body.accessToken);
    expect(second.options.user.id).toBe(options.user.id);
    expect(second.options.excludeCredentials).toEqual([{ id: credential.id.toString('base64url'), type: 'public-key', transports: ['internal'] }]);
    // The attestation of one user's challenge cannot register for another, and a challenge works once.
    const other = await signUp(t.client);
    const theirs = await t.client.post('/auth/passkeys/register/options', { bearer: other.accessToken });
    const reply = register(theirs.body, ORIGIN).response;
    expectError(await t.client.post('/auth/passkeys/register/verify', { bearer: res.body.accessToken, body: reply }), 401, 'PASSKEY_INVALID');
    expectError(await t.client.post('/auth/passkeys/register/verify', { bearer: other.accessToken, body: reply }), 401, 'PASSKEY_INVALID');
    // Another origin is refused at registration too.
    const again = await t.client.post('/auth/passkeys/register/options', { bearer: other.accessToken });
    expectError(
      await t.client.post('/auth/passkeys/register/verify', {
        bearer: other.accessToken,
        body: register(again.body, 'https://evil.example').response,
      }),
      401,
      'PASSKEY_INVALID',
    );
  });

  it('removal: 404 for an unknown or another user’s id (checked first), aal1 → STEP_UP_REQUIRED, aal2 → 204; the passkey then signs no one in', async () => {
    const user = await signUp(t.client);
    const { credential, passkey } = await addPasskey(t.client, user.accessToken);
    const other = await signUp(t.client);
    const foreign = await addPasskey(t.client, other.accessToken);
    expectError(await t.client.delete('/auth/passkeys/nope', { bearer: user.accessToken }), 404, 'NOT_FOUND');
    expectError(await t.client.delete(`/auth/passkeys/${foreign.passkey.id}`, { bearer: user.accessToken }), 404, 'NOT_FOUND');
    expectError(await t.client.delete(`/auth/passkeys/${passkey.id}`, { bearer: user.accessToken }), 401, 'STEP_UP_REQUIRED');
    const { res } = await signIn(t.client, credential);
    const removed = await t.client.delete(`/auth/passkeys/${passkey.id}`, { bearer: res.body.accessToken });
    expect(removed.status).toBe(204);
    expect((await t.client.get('/auth/passkeys', { bearer: res.body.accessToken })).body).toEqual({ passkeys: [] });
    expectError((await signIn(t.client, credential)).res, 401, 'PASSKEY_INVALID');
    expect((await auditOf(user.userId, 'passkey_removed')).map((e) => e.detail)).toEqual([{ passkeyId: passkey.id }]);
    // One step again.
    const login = await t.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
    expect(login.body.accessToken).toEqual(expect.any(String));
  });

  it('DPoP: a usernameless sign-in with a proof binds the session to its key; an invalid proof signs no one in', async () => {
    const user = await signUp(t.client);
    const { credential } = await addPasskey(t.client, user.accessToken);
    const key = proofKey('ES256');
    const url = `${ORIGIN}/auth/passkeys/login/verify`;
    const bound = await signIn(t.client, credential, {}, { ...BODY, dpop: makeProof(key, 'POST', url, t.clock.now() / 1000) });
    expect(bound.res.status, JSON.stringify(bound.res.body)).toBe(200);
    expect(bound.res.body.tokenType).toBe('DPoP');
    expect(claimsOf(bound.res.body.accessToken).cnf).toEqual({ jkt: expect.any(String) });
    const wrong = await signIn(t.client, credential, {}, { ...BODY, dpop: makeProof(key, 'POST', `${ORIGIN}/elsewhere`, t.clock.now() / 1000) });
    expectError(wrong.res, 401, 'INVALID_DPOP_PROOF');
  });
});

describe('attacks: usernameless options flood (rate limits on)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ rateLimits: { ...loadConfig({}).rateLimits, enabled: true, loginPerIp: 5 } });
  });
  afterAll(() => t?.close());

  it('POST /auth/passkeys/login/options needs no account but writes a challenge: it counts against the login budget of the IP (429 once spent, nothing written)', async () => {
    const challenges = async () => {
      const raw = new BetterSqlite3(join(t.dir, 'latchkey.db'), { readonly: true });
      try {
        return raw.prepare('select count(*) from webauthn_challenges').pluck().get() as number;
      } finally {
        raw.close();
      }
    };
    for (let i = 0; i < 5; i++) expect((await t.client.post('/auth/passkeys/login/options', { body: {} })).status).toBe(200);
    expect(Number(await challenges())).toBe(5);
    for (let i = 0; i < 20; i++) {
      const res = await t.client.post('/auth/passkeys/login/options', { body: {} });
      expectError(res, 429, 'RATE_LIMITED');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(Number(await challenges())).toBe(5);
    // The same budget as password logins: this IP's next login attempt is refused too.
    expectError(
      await t.client.post('/auth/login', { body: { email: 'nobody@example.com', password: PASSWORD }, headers: BODY }),
      429,
      'RATE_LIMITED',
    );
  });
});

describe('LATCHKEY_WEBAUTHN_RP_ID', () => {
  it('defaults to the issuer’s host name; an IP address or a URL → a ConfigError naming the variable', () => {
    expect(loadConfig({}).webauthnRpId).toBe('localhost');
    expect(loadConfig({ LATCHKEY_ISSUER: 'https://auth.example.com:8443' }).webauthnRpId).toBe('auth.example.com');
    expect(loadConfig({ LATCHKEY_WEBAUTHN_RP_ID: 'Example.com' }).webauthnRpId).toBe('example.com');
    for (const value of ['127.0.0.1', '[::1]', '::1', 'https://example.com', 'example.com:443']) {
      expect(() => loadConfig({ LATCHKEY_WEBAUTHN_RP_ID: value })).toThrow(ConfigError);
      expect(() => loadConfig({ LATCHKEY_WEBAUTHN_RP_ID: value })).toThrow(/^LATCHKEY_WEBAUTHN_RP_ID: /);
    }
  });
});

await describePostgres('passkeys on two instances of one PostgreSQL', () => {
  let schema: TestSchema;
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    schema = await createTestSchema();
    const secret = new Uint8Array(randomBytes(32));
    a = await startTestServer({ databaseUrl: schema.url, secret });
    b = await startTestServer({ databaseUrl: schema.url, secret });
    b.clock.set(a.clock.now());
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await schema?.drop();
  });

  it('registered on A, signed in on B with A’s challenge; the replay on A is refused; a second step started on A finishes on B', async () => {
    const user = await signUp(a.client);
    const { credential } = await addPasskey(a.client, user.accessToken);
    const options = await loginOptions(a.client);
    const assertion = assert(credential, options, ORIGIN);
    const onB = await b.client.post('/auth/passkeys/login/verify', { body: assertion, headers: BODY });
    expect(onB.status, JSON.stringify(onB.body)).toBe(200);
    expect(claimsOf(onB.body.accessToken)).toMatchObject({ sub: user.userId, amr: ['hwk'] });
    expectError(await a.client.post('/auth/passkeys/login/verify', { body: assertion, headers: BODY }), 401, 'PASSKEY_INVALID');

    const login = await a.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
    const second = await loginOptions(a.client, login.body.mfaToken);
    const res = await b.client.post('/auth/passkeys/login/verify', {
      body: { ...assert(credential, second, ORIGIN), mfaToken: login.body.mfaToken },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(claimsOf(res.body.accessToken)).toMatchObject({ amr: ['pwd', 'hwk'], acr: 'aal2' });
  });

  it('the same assertion sent to both instances at once signs in once', async () => {
    const user = await signUp(a.client);
    const { credential } = await addPasskey(a.client, user.accessToken);
    const assertion = assert(credential, await loginOptions(b.client), ORIGIN);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).client.post('/auth/passkeys/login/verify', { body: assertion, headers: BODY })),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401, 401]);
  });
});
