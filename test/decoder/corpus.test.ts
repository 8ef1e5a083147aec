/**
 * `latchkey decode` and `latchkey verify` over a corpus of odd tokens (issue 7, acceptance 2):
 * each token has its expected decode exit code and exact warning codes, and its expected
 * verify exit code with a given key (docs/decoder.md: 0 valid, 3 malformed, 4 bad signature,
 * 5 expired or not yet valid). Tokens are built for real: signed with jose, then tampered.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportSPKI, generateKeyPair, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { decode } from '../../src/cli/commands/decode.js';
import { verify } from '../../src/cli/commands/verify.js';
import type { CliIo } from '../../src/cli/io.js';
import { hs256, rawToken, SECRET } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'lk-decoder-corpus-'));
const secretFile = join(dir, 'secret.txt');
const pemFile = join(dir, 'es256.pem');
writeFileSync(secretFile, `${SECRET}\n`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIo & { out: string; err: string } {
  const o = {
    out: '',
    err: '',
    stdout: (t: string) => {
      o.out += t;
    },
    stderr: (t: string) => {
      o.err += t;
    },
    readStdin: async () => '',
    env: {},
    cwd: dir,
  };
  return o;
}

interface Case {
  name: string;
  token: string;
  /** `latchkey decode` exit code. */
  decode: 0 | 3;
  /** Exact warning codes of `decode --no-guess` (sorted), or the error code when decode exits 3. */
  codes: string[];
  /** `latchkey verify` exit code, with the HS256 secret file or the ES256 public key. */
  verify: 0 | 3 | 4 | 5;
  key?: 'secret' | 'es256';
  /** Extra `decode` arguments (default `--no-guess`). */
  decodeArgs?: string[];
}

const now = Math.floor(Date.now() / 1000);
const fresh = (extra: JWTPayload = {}): JWTPayload => ({ sub: 'user-1', iat: now, exp: now + 600, ...extra });
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64url');
/** HS256 over raw header/payload JSON with the corpus secret (for headers jose will not sign). */
const hmacToken = (header: string, payload: string) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
};
const flip = (s: string, at: number) => `${s.slice(0, at)}${s[at] === 'A' ? 'B' : 'A'}${s.slice(at + 1)}`;

const cases: Case[] = [];

beforeAll(async () => {
  const es = await generateKeyPair('ES256', { extractable: true });
  writeFileSync(pemFile, await exportSPKI(es.publicKey));
  const es256 = (payload: JWTPayload, header: Partial<JWTHeaderParameters> = {}) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'k1', ...header }).sign(es.privateKey);
  const hs = (payload: JWTPayload, header: Partial<JWTHeaderParameters> = {}) => hs256(payload, header);

  const valid = await hs(fresh(), { typ: 'JWT' });
  const [vh, vp, vs] = valid.split('.') as [string, string, string];
  const other = (await hs(fresh({ role: 'admin' }))).split('.')[1]!;
  const big = await hs(fresh({ blob: 'x'.repeat(100_000) }));

  cases.push(
    { name: 'valid HS256', token: valid, decode: 0, codes: [], verify: 0 },
    { name: 'valid ES256 with kid', token: await es256(fresh(), { typ: 'at+jwt' }), decode: 0, codes: [], verify: 0, key: 'es256' },
    { name: 'tampered payload (signature of another payload)', token: `${vh}.${other}.${vs}`, decode: 0, codes: [], verify: 4 },
    { name: 'tampered signature (one character)', token: `${vh}.${vp}.${flip(vs, 5)}`, decode: 0, codes: [], verify: 4 },
    { name: 'signature stripped', token: `${vh}.${vp}.`, decode: 0, codes: ['SIGNATURE_EMPTY'], verify: 4 },
    { name: 'alg none, unsigned', token: rawToken('{"alg":"none"}', JSON.stringify(fresh()), ''), decode: 0, codes: ['ALG_NONE'], verify: 4 },
    { name: 'alg NoNe (case variant)', token: rawToken('{"alg":"NoNe"}', JSON.stringify(fresh()), ''), decode: 0, codes: ['ALG_NONE'], verify: 4 },
    { name: 'alg unknown', token: rawToken('{"alg":"XS999"}', JSON.stringify(fresh())), decode: 0, codes: ['ALG_UNKNOWN'], verify: 4 },
    { name: 'ES256 token checked with an HMAC secret (algorithm confusion)', token: await es256(fresh()), decode: 0, codes: [], verify: 4 },
    { name: 'expired', token: await hs(fresh({ iat: now - 7200, exp: now - 3600 })), decode: 0, codes: ['EXPIRED'], verify: 5 },
    { name: 'nbf in the future', token: await hs(fresh({ nbf: now + 3600, exp: now + 7200 })), decode: 0, codes: ['NOT_YET_VALID'], verify: 5 },
    { name: 'iat in the future', token: await hs(fresh({ iat: now + 3600, exp: now + 7200 })), decode: 0, codes: ['IAT_FUTURE'], verify: 0 },
    { name: 'no exp', token: await hs({ sub: 'user-1', iat: now }), decode: 0, codes: ['EXP_MISSING'], verify: 0 },
    { name: 'lifetime of 30 days', token: await hs(fresh({ exp: now + 30 * 86_400 })), decode: 0, codes: ['LIFETIME_LONG'], verify: 0 },
    {
      name: 'exp in milliseconds',
      token: await hs(fresh({ exp: (now + 600) * 1000 })),
      decode: 0,
      codes: ['LIFETIME_LONG', 'TIME_MILLISECONDS'],
      verify: 0,
    },
    { name: 'exp not a number', token: await hs(fresh({ exp: 'tomorrow' as unknown as number })), decode: 0, codes: ['TIME_NOT_NUMERIC'], verify: 5 },
    { name: 'exp negative', token: await hs(fresh({ exp: -5 })), decode: 0, codes: ['TIME_OUT_OF_RANGE'], verify: 5 },
    { name: 'e-mail in the payload', token: await hs(fresh({ email: 'ada@example.com' })), decode: 0, codes: ['SENSITIVE_EMAIL'], verify: 0 },
    { name: 'phone number in the payload', token: await hs(fresh({ phone: '+44 20 7946 0958' })), decode: 0, codes: ['SENSITIVE_PHONE'], verify: 0 },
    {
      name: 'card number in the payload',
      token: await hs(fresh({ note: '4111 1111 1111 1111' })),
      decode: 0,
      codes: ['SENSITIVE_CARD_NUMBER'],
      verify: 0,
    },
    { name: 'claim named password', token: await hs(fresh({ password: 'hunter2' })), decode: 0, codes: ['SENSITIVE_CLAIM_NAME'], verify: 0 },
    { name: 'jku header', token: await hs(fresh(), { jku: 'https://evil.example/jwks.json' }), decode: 0, codes: ['HEADER_JKU'], verify: 0 },
    { name: 'x5u header', token: await hs(fresh(), { x5u: 'https://evil.example/cert.pem' }), decode: 0, codes: ['HEADER_X5U'], verify: 0 },
    {
      name: 'embedded jwk (self-asserted)',
      token: await es256(fresh(), {
        jwk: { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' },
      }),
      decode: 0,
      codes: ['HEADER_JWK'],
      verify: 0,
      key: 'es256',
    },
    { name: 'x5c header', token: await hs(fresh(), { x5c: ['MIIBszCCAVmgAwIBAgIU'] }), decode: 0, codes: ['HEADER_X5C'], verify: 0 },
    { name: 'kid path traversal', token: await hs(fresh(), { kid: '../../../../etc/passwd' }), decode: 0, codes: ['KID_SUSPICIOUS'], verify: 0 },
    { name: 'kid SQL injection', token: await hs(fresh(), { kid: "x' UNION SELECT 'key" }), decode: 0, codes: ['KID_SUSPICIOUS'], verify: 0 },
    {
      name: 'crit unknown',
      token: hmacToken('{"alg":"HS256","crit":["exp2"],"exp2":1}', JSON.stringify(fresh())),
      decode: 0,
      codes: ['CRIT_UNKNOWN'],
      verify: 4,
    },
    { name: 'typ not a JWT type', token: await hs(fresh(), { typ: 'text/plain' }), decode: 0, codes: ['TYP_MISMATCH'], verify: 0 },
    {
      name: 'duplicate member names in the payload',
      token: rawToken('{"alg":"HS256"}', `{"sub":"user-1","exp":${now + 600},"role":"user","role":"admin"}`),
      decode: 0,
      codes: ['DUPLICATE_KEYS'],
      verify: 4,
    },
    {
      name: 'JWE (five parts)',
      token: `${b64('{"alg":"RSA-OAEP","enc":"A256GCM"}')}.${b64('k')}.${b64('iv')}.${b64('ct')}.${b64('tag')}`,
      decode: 0,
      codes: ['JWE'],
      verify: 3,
    },
    { name: 'garbage', token: 'not a token', decode: 3, codes: ['BAD_SEGMENT_COUNT'], verify: 3 },
    { name: 'two parts', token: `${vh}.${vp}`, decode: 3, codes: ['BAD_SEGMENT_COUNT'], verify: 3 },
    {
      name: 'standard base64 with padding',
      token: `${vh}.${vp}.${Buffer.from(vs, 'base64url').toString('base64')}`,
      decode: 3,
      codes: ['BAD_BASE64URL'],
      verify: 3,
    },
    { name: 'header not JSON', token: `${b64('{alg:HS256}')}.${vp}.${vs}`, decode: 3, codes: ['HEADER_NOT_JSON'], verify: 3 },
    { name: 'payload a JSON array', token: rawToken('{"alg":"HS256"}', '[1,2,3]'), decode: 3, codes: ['PAYLOAD_NOT_OBJECT'], verify: 3 },
    {
      name: 'payload not UTF-8',
      token: `${vh}.${b64(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]))}.${vs}`,
      decode: 3,
      codes: ['NOT_UTF8'],
      verify: 3,
    },
    { name: 'huge token (300 KiB)', token: `${vh}.${b64(`{"a":"${'x'.repeat(300 * 1024)}"}`)}.${vs}`, decode: 3, codes: ['TOO_LARGE'], verify: 3 },
    { name: 'large but valid (100 KB claim)', token: big, decode: 0, codes: [], verify: 0 },
    {
      name: 'signed with a common secret (guessed)',
      token: await hs256(fresh(), {}, new TextEncoder().encode('secret')),
      decode: 0,
      codes: ['HMAC_SECRET_GUESSED'],
      verify: 4,
      decodeArgs: [],
    },
  );
});

describe('decoder CLI corpus', () => {
  it('holds at least 30 tokens', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it('latchkey decode: exit code and exact warning (or error) codes for every token', async () => {
    const seen: string[] = [];
    for (const c of cases) {
      const out = io();
      const exit = await decode([c.token, ...(c.decodeArgs ?? ['--no-guess'])], out);
      const result = JSON.parse(out.out) as { warnings?: { code: string }[]; error?: { code: string } };
      const codes = exit === 0 ? (result.warnings ?? []).map((w) => w.code).sort() : [result.error?.code];
      seen.push(`${c.name}: ${exit} ${JSON.stringify(codes)}`);
      expect(`${c.name}: ${exit} ${JSON.stringify(codes)}`).toBe(`${c.name}: ${c.decode} ${JSON.stringify([...c.codes].sort())}`);
    }
    expect(seen).toHaveLength(cases.length);
  });

  it('latchkey verify: exit code for every token', async () => {
    for (const c of cases) {
      const out = io();
      const keyArgs = c.key === 'es256' ? ['--key', pemFile] : ['--secret-file', secretFile];
      const exit = await verify([c.token, ...keyArgs], out);
      expect(`${c.name}: ${exit}`).toBe(`${c.name}: ${c.verify}`);
      // Nothing secret or token-sized ever reaches the terminal.
      expect(out.out + out.err).not.toContain(SECRET);
    }
  });
});
