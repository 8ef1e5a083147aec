import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { decode } from '../../src/cli/commands/decode.js';
import { verify } from '../../src/cli/commands/verify.js';
import type { CliIo } from '../../src/cli/io.js';
import { hs256, rawToken, SECRET } from './helpers.js';

const now = (): number => Math.floor(Date.now() / 1000);
const dir = mkdtempSync(join(tmpdir(), 'lk-decoder-cli-'));
const file = (name: string, content: string): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

function fakeIo(stdin = ''): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => {
      io.out += t;
    },
    stderr: (t: string) => {
      io.err += t;
    },
    readStdin: async () => stdin,
    env: {},
    cwd: dir,
  };
  return io;
}

let es: Awaited<ReturnType<typeof generateKeyPair>>;
let good: string;
let server: Server;
let jwksUrl: string;
let requests = 0;
beforeAll(async () => {
  es = await generateKeyPair('ES256', { extractable: true });
  good = await new SignJWT({ sub: 'u', iat: now(), exp: now() + 600 }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(es.privateKey);
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(es.publicKey)), kid: 'k1' }] });
  server = createServer((req, res) => {
    requests++;
    if (req.url === '/slow') return; // never answers
    res.writeHead(req.url === '/jwks.json' ? 200 : 404, { 'content-type': 'application/json' }).end(jwks);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  jwksUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('latchkey decode (in-process)', () => {
  it('prints {header, payload, signature, times, warnings} and exits 0', async () => {
    const io = fakeIo();
    const t = await hs256({ b: 1, a: 2, '1': 3 }, { jku: 'https://evil.example/k' });
    expect(await decode([t], io)).toBe(0);
    const out = JSON.parse(io.out) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['header', 'payload', 'signature', 'times', 'warnings']);
    expect(out.times).toEqual({});
    expect(io.out.indexOf('"b":1')).toBeLessThan(io.out.indexOf('"a":2'));
    const codes = (out.warnings as { code: string }[]).map((w) => w.code);
    expect(codes).toEqual(expect.arrayContaining(['HEADER_JKU', 'EXP_MISSING']));
  });
  it('keeps member order including integer-like keys', async () => {
    const io = fakeIo();
    expect(await decode([rawToken('{"alg":"HS256"}', '{"z":1,"10":2,"a":3}')], io)).toBe(0);
    expect(io.out).toContain('"payload":{"z":1,"10":2,"a":3}');
  });
  it('--pretty indents; - reads stdin; guesses common secrets unless --no-guess', async () => {
    const weak = await hs256({ exp: now() + 60 }, {}, new TextEncoder().encode('secret'));
    const io = fakeIo(`${weak}\n`);
    expect(await decode(['-', '--pretty'], io)).toBe(0);
    expect(io.out).toContain('\n  "header": {');
    expect(io.out).toContain('HMAC_SECRET_GUESSED');
    expect(io.err).toMatch(/^exp +expires in \d+ sec · /m);
    expect(io.out).not.toMatch(/"secret"/);
    const io2 = fakeIo();
    expect(await decode([weak, '--no-guess'], io2)).toBe(0);
    expect(io2.out).not.toContain('HMAC_SECRET_GUESSED');
  });
  it('times: every time claim as written, ISO 8601 UTC, local and relative; odd values become problems', async () => {
    const t = rawToken('{"alg":"HS256"}', '{"iat":1700000000,"exp":1700000900.0,"nbf":"soon","auth_time":1700000000000}');
    const io = fakeIo();
    expect(await decode([t, '--no-guess'], io)).toBe(0);
    expect(io.out).toContain('"exp":{"value":1700000900.0,');
    const times = (JSON.parse(io.out) as { times: Record<string, Record<string, unknown>> }).times;
    expect(Object.keys(times)).toEqual(['exp', 'nbf', 'iat', 'auth_time']);
    expect(times.exp).toMatchObject({
      value: 1700000900,
      iso: '2023-11-14T22:28:20.000Z',
      relative: expect.stringMatching(/^expired \d+ years? ago$/),
    });
    expect(times.exp!.local).toEqual(expect.any(String));
    expect(times.iat).toMatchObject({ iso: '2023-11-14T22:13:20.000Z', relative: expect.stringMatching(/^issued .* ago$/) });
    expect(times.nbf).toEqual({ value: 'soon', problem: 'NOT_NUMERIC' });
    expect(times.auth_time).toMatchObject({ problem: 'MILLISECONDS', isoIfMilliseconds: '2023-11-14T22:13:20.000Z' });
    const codes = (JSON.parse(io.out) as { warnings: { code: string }[] }).warnings.map((w) => w.code);
    expect(codes).toEqual(expect.arrayContaining(['EXPIRED', 'TIME_NOT_NUMERIC', 'TIME_MILLISECONDS']));
  });
  it('@file reads the token from a file; an unreadable file is a usage error that does not echo the path content', async () => {
    const t = await hs256({ sub: 'from-file', exp: now() + 60 });
    const path = file('token.txt', `${t}\n`);
    const io = fakeIo();
    expect(await decode([`@${path}`, '--no-guess'], io)).toBe(0);
    expect((JSON.parse(io.out) as { payload: { sub: string } }).payload.sub).toBe('from-file');
    const rel = fakeIo();
    expect(await decode(['@token.txt', '--no-guess'], rel)).toBe(0); // relative to the working directory
    const missing = fakeIo();
    expect(await decode(['@no-such-file.txt'], missing)).toBe(2);
    expect(missing.err).toContain('cannot read no-such-file.txt: ENOENT');
    expect(missing.out).toBe('');
    const v = fakeIo();
    expect(await verify([`@${path}`, '--secret-file', file('s.txt', SECRET)], v)).toBe(0);
    expect(await verify(['@no-such-file.txt', '--secret-file', file('s2.txt', SECRET)], fakeIo())).toBe(2);
  });
  it('exit 3 for malformed tokens, with a coded error', async () => {
    const io = fakeIo();
    expect(await decode(['abc.def'], io)).toBe(3);
    expect(JSON.parse(io.out)).toMatchObject({ error: { code: 'BAD_SEGMENT_COUNT' } });
  });
  it('exit 2 for usage errors', async () => {
    expect(await decode([], fakeIo())).toBe(2);
    expect(await decode(['a', 'b'], fakeIo())).toBe(2);
    expect(await decode(['--bogus', 'a'], fakeIo())).toBe(2);
    expect(await decode(['--max-lifetime', 'x', 'a'], fakeIo())).toBe(2);
  });
  it('--typ and --max-lifetime feed the linter', async () => {
    const t = await hs256({ iat: now(), exp: now() + 7200 }, { typ: 'JWT' });
    const io = fakeIo();
    expect(await decode([t, '--typ', 'at+jwt', '--max-lifetime', '3600', '--no-guess'], io)).toBe(0);
    expect((JSON.parse(io.out) as { warnings: { code: string }[] }).warnings.map((w) => w.code)).toEqual(['TYP_MISMATCH', 'LIFETIME_LONG']);
  });
});

describe('latchkey verify (in-process)', () => {
  it('exit 0 valid with --key, --jwk, --jwks file and --jwks URL', async () => {
    const pem = file('pub.pem', await exportSPKI(es.publicKey));
    const jwk = file('pub.jwk', JSON.stringify(await exportJWK(es.publicKey)));
    const jwks = file('jwks.json', JSON.stringify({ keys: [{ ...(await exportJWK(es.publicKey)), kid: 'k1' }] }));
    for (const args of [
      ['--key', pem],
      ['--key', 'pub.pem'],
      ['--jwk', jwk],
      ['--jwks', jwks],
      ['--jwks', `${jwksUrl}/jwks.json`],
    ]) {
      const io = fakeIo();
      expect(await verify([good, ...args], io), args.join(' ') + io.err).toBe(0);
      expect(io.out).toMatch(/^valid: /);
    }
  });
  it('secret files: trailing newline ignored, stdin with -, never argv', async () => {
    const t = await hs256({ exp: now() + 60 });
    expect(await verify([t, '--secret-file', file('s.txt', `${SECRET}\n`)], fakeIo())).toBe(0);
    expect(await verify([t, '--secret-file', '-'], fakeIo(`${SECRET}\n`))).toBe(0);
    const io = fakeIo();
    expect(await verify([t, '--secret', SECRET], io)).toBe(2);
    expect(io.err).not.toContain(SECRET);
    expect(await verify([t, `--secret=${SECRET}`], fakeIo())).toBe(2);
    expect(await verify(['-', '--secret-file', '-'], fakeIo())).toBe(2);
  });
  it('exit 4 bad signature, wrong alg, unknown kid; warnings on stderr', async () => {
    const t = await hs256({ exp: now() + 60 }, {}, new TextEncoder().encode('secret'));
    const io = fakeIo();
    expect(await verify([t, '--secret-file', file('wrong.txt', 'not-the-secret-at-all-0123456789abcdef')], io)).toBe(4);
    expect(io.err).toMatch(/^invalid: /);
    const io2 = fakeIo();
    expect(await verify([t, '--secret-file', file('weak.txt', 'secret')], io2)).toBe(0);
    expect(io2.err).toContain('warning HMAC_SECRET_COMMON');
    expect(io2.err).toContain('warning HMAC_SECRET_SHORT');
    expect(await verify([good, '--secret-file', file('s2.txt', SECRET)], fakeIo())).toBe(4);
    expect(await verify([good, '--secret-file', file('s3.txt', SECRET), '--alg', 'HS512'], fakeIo())).toBe(4);
    const otherKid = await new SignJWT({ exp: now() + 60 }).setProtectedHeader({ alg: 'ES256', kid: 'zz' }).sign(es.privateKey);
    expect(await verify([otherKid, '--jwks', `${jwksUrl}/jwks.json`], fakeIo())).toBe(4);
    expect(await verify([rawToken('{"alg":"none"}', '{}', ''), '--secret-file', file('s4.txt', SECRET)], fakeIo())).toBe(4);
  });
  it('exit 5 expired or not yet valid (signature fine), --json result', async () => {
    const t = await hs256({ exp: now() - 100 });
    const io = fakeIo();
    expect(await verify([t, '--secret-file', file('s5.txt', SECRET), '--json'], io)).toBe(5);
    expect(JSON.parse(io.out)).toMatchObject({ status: 'invalid', valid: true, time: 'expired' });
    expect(await verify([t, '--secret-file', file('s6.txt', SECRET), '--clock-tolerance', '300'], fakeIo())).toBe(0);
    const nbf = await hs256({ nbf: now() + 1000, exp: now() + 2000 });
    expect(await verify([nbf, '--secret-file', file('s7.txt', SECRET)], fakeIo())).toBe(5);
  });
  it('exit 3 malformed token', async () => {
    expect(await verify(['x.y', '--secret-file', file('s8.txt', SECRET)], fakeIo())).toBe(3);
  });
  it('exit 2 usage: no key, two keys, missing file, bad key, private key', async () => {
    expect(await verify([good], fakeIo())).toBe(2);
    expect(await verify([good, '--key', 'a', '--jwk', 'b'], fakeIo())).toBe(2);
    expect(await verify([good, '--key', join(dir, 'missing.pem')], fakeIo())).toBe(2);
    expect(await verify([good, '--key', file('bad.pem', 'garbage')], fakeIo())).toBe(2);
    expect(await verify([good, '--jwk', file('bad.json', '{')], fakeIo())).toBe(2);
    expect(await verify([good, '--key', file('priv.pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')], fakeIo())).toBe(2);
    expect(await verify([good, '--alg', 'XX256', '--key', 'pub.pem'], fakeIo())).toBe(2);
  });
  it('exit 1 when an explicit --jwks URL cannot be fetched (HTTP error)', async () => {
    const io = fakeIo();
    expect(await verify([good, '--jwks', `${jwksUrl}/missing`], io)).toBe(1);
    expect(io.err).toContain('HTTP 404');
  });
  it('exit 1 when the --jwks URL does not answer in time', async () => {
    const io = fakeIo();
    io.env = { LATCHKEY_JWKS_TIMEOUT_MS: '300' };
    expect(await verify([good, '--jwks', `${jwksUrl}/slow`], io)).toBe(1);
    expect(io.err).toContain('timed out');
  });
  it('never fetches the jku a token names', async () => {
    const before = requests;
    const t = await new SignJWT({ exp: now() + 60 })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', jku: `${jwksUrl}/jwks.json`, x5u: `${jwksUrl}/x` })
      .sign(es.privateKey);
    expect(await decode([t], fakeIo())).toBe(0);
    expect(await verify([t, '--key', 'pub.pem'], fakeIo())).toBe(0);
    expect(requests).toBe(before);
  });
});

describe('latchkey as a real subprocess', () => {
  const run = async (args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> => {
    return new Promise((resolve) => {
      const child = execFile(
        'npx',
        ['tsx', 'src/cli/bin.ts', ...args],
        { cwd: join(import.meta.dirname, '..', '..'), timeout: 60_000 },
        (error, stdout, stderr) => {
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
        },
      );
      child.stdin?.end(input ?? '');
    });
  };

  it('decode and verify exit codes 0, 2, 3, 4, 5', async () => {
    const pem = file('sub-pub.pem', await exportSPKI(es.publicKey));
    const secret = file('sub-secret.txt', `${SECRET}\n`);
    const expired = await hs256({ exp: now() - 100 });
    const results = await Promise.all([
      run(['decode', good]),
      run(['decode', '-'], `${good}\n`),
      run(['decode', 'not-a-token']),
      run(['decode']),
      run(['verify', good, '--key', pem]),
      run(['verify', good, '--secret-file', secret]),
      run(['verify', expired, '--secret-file', secret]),
      run(['verify', '-', '--secret-file', secret], 'a.b'),
      run(['verify', good, '--secret', 'x']),
    ]);
    expect(results.map((r) => r.code)).toEqual([0, 0, 3, 2, 0, 4, 5, 3, 2]);
    expect(JSON.parse(results[0]!.stdout)).toMatchObject({ header: { alg: 'ES256', kid: 'k1' }, payload: { sub: 'u' } });
    expect(results[4]!.stdout).toMatch(/^valid: Signature valid \(ES256/);
  }, 120_000);
});
