/**
 * Look-alike addresses over HTTP: an address that a person cannot tell apart from a registered
 * one is either the same account (NFD vs NFC, letter case, a fullwidth domain) or refused with
 * 400 VALIDATION_FAILED (zero-width and format characters, the soft hyphen, bidi controls, NUL,
 * a fullwidth `＠` or local part, a trailing dot, over-long parts) — never a second account
 * beside the original. Before, normalisation was `trim().toLowerCase()` and every one of these
 * registered a new account, and an NFC account could not sign in with its address typed in NFD.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { GuardedClient } from './helpers.js';

const PASSWORD = 'correct horse battery staple';
const ORIGINAL = 'jos\u00e9@example.com'; // é precomposed (NFC)

describe('attacks: look-alike e-mail addresses', () => {
  let t: TestServer;
  let c: GuardedClient;
  beforeAll(async () => {
    t = await startTestServer();
    c = new GuardedClient(t.baseUrl, [PASSWORD]);
    const res = await c.post('/auth/register', { body: { email: ORIGINAL, password: PASSWORD } });
    expect(res.status).toBe(201);
    expect(res.body.user.email).toBe(ORIGINAL);
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([
    ['NFD (e + combining acute)', 'jose\u0301@example.com'],
    ['upper case', 'JOS\u00c9@EXAMPLE.COM'],
    ['upper case in NFD', 'JOSE\u0301@Example.Com'],
    ['surrounding spaces', '  jos\u00e9@example.com\t'],
    ['a fullwidth domain (IDNA maps it)', 'jos\u00e9@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d'],
  ])('%s is the same account: register 409 EMAIL_TAKEN, login 200', async (_name, variant) => {
    const register = await c.post('/auth/register', { body: { email: variant, password: PASSWORD } });
    expect([register.status, register.body.error]).toEqual([409, 'EMAIL_TAKEN']);
    const login = await c.post('/auth/login', { body: { email: variant, password: PASSWORD } });
    expect(login.status).toBe(200);
    const me = await c.get('/auth/me', { bearer: login.body.accessToken });
    expect(me.body.email).toBe(ORIGINAL);
  });

  it.each([
    ['a zero-width space', 'jos\u00e9\u200b@example.com'],
    ['a zero-width joiner', 'jo\u200ds\u00e9@example.com'],
    ['a soft hyphen', 'jo\u00ads\u00e9@example.com'],
    ['a right-to-left override (U+202E)', '\u202ejos\u00e9@example.com'],
    ['a left-to-right mark', 'jos\u00e9\u200e@example.com'],
    ['a BOM inside', 'jos\ufeff\u00e9@example.com'],
    ['NUL', 'jos\u00e9\u0000@example.com'],
    ['a newline inside', 'jos\u00e9\n@example.com'],
    ['fullwidth commercial at (U+FF20)', 'jos\u00e9\uff20example.com'],
    ['small commercial at (U+FE6B) beside a real one', 'jos\u00e9\ufe6bx@example.com'],
    ['fullwidth letters in the local part', '\uff4a\uff4f\uff53\u00e9@example.com'],
    ['a ligature (ﬁ)', '\ufb01@example.com'],
    ['a trailing dot in the domain', 'jos\u00e9@example.com.'],
    ['a trailing ideographic full stop', 'jos\u00e9@example.com\u3002'],
    ['two @', 'jos\u00e9@x@example.com'],
    ['a quoted local part', '"jos\u00e9"@example.com'],
    ['an IP literal', 'jos\u00e9@[127.0.0.1]'],
    ['a numeric domain', 'jos\u00e9@127.0.0.1'],
    ['a local part over 64 octets', `${'j'.repeat(65)}@example.com`],
    ['a domain label over 63 octets', `jose@${'e'.repeat(64)}.com`],
    ['an address over 254 octets', `jose@${`${'e'.repeat(60)}.`.repeat(4)}example.com`],
  ])('%s: register 400 VALIDATION_FAILED, and no account', async (_name, variant) => {
    const register = await c.post('/auth/register', { body: { email: variant, password: PASSWORD } });
    expect([register.status, register.body.error]).toEqual([400, 'VALIDATION_FAILED']);
    expect(register.text).not.toContain(variant); // the message names the rule, not the input
    // A login with it cannot reach any account: the answer of an unknown address (or, past the
    // schema's 254 characters, the schema's 400).
    const login = await c.post('/auth/login', { body: { email: variant, password: PASSWORD } });
    const expected = variant.length > 254 ? [400, 'VALIDATION_FAILED'] : [401, 'INVALID_CREDENTIALS'];
    expect([login.status, login.body.error]).toEqual(expected);
  });

  it('one account exists after all of it: the original', async () => {
    const users = await t.latchkey.store.findUserByEmail(ORIGINAL);
    expect(users?.email).toBe(ORIGINAL);
    for (const email of ['jose\u0301@example.com', 'jos\u00e9\u200b@example.com', 'jos\u00e9@example.com.', 'jos\u00e9\uff20example.com']) {
      expect(await t.latchkey.store.findUserByEmail(email), JSON.stringify(email)).toBeUndefined();
    }
  });

  it('an internationalised domain is stored in its ASCII (punycode) form, and found from either', async () => {
    const res = await c.post('/auth/register', { body: { email: 'Anna@B\u00fccher.example', password: PASSWORD } });
    expect(res.status).toBe(201);
    expect(res.body.user.email).toBe('anna@xn--bcher-kva.example');
    for (const typed of ['anna@b\u00fccher.example', 'ANNA@XN--BCHER-KVA.EXAMPLE', 'anna@bu\u0308cher.example']) {
      expect((await c.post('/auth/login', { body: { email: typed, password: PASSWORD } })).status, typed).toBe(200);
    }
  });
});
