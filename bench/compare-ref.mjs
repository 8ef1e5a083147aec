/**
 * Before/after for the verifier: `check()` of the current src/jwt against src/jwt at a git
 * ref, side by side in one process (rounds interleaved), next to the node:crypto floor.
 *
 *   node bench/compare-ref.mjs <ref> [--rounds 7] [--ms 200]
 *
 * The ref's src/jwt (and src/errors.ts) is extracted with `git show` and transpiled like the
 * current source (bench/lib/build.mjs), so both run as the same kind of plain JavaScript.
 */
import { execFileSync } from 'node:child_process';
import { createHmac, createSecretKey, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { buildSource, OUT, ROOT } from './lib/build.mjs';
import { range, ratio, sig, summary, table } from './lib/stats.mjs';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '7' }, ms: { type: 'string', default: '200' } },
});
const ref = positionals[0];
if (!ref) throw new Error('usage: node bench/compare-ref.mjs <git ref>');
const ROUNDS = Number(args.rounds);
const MS = Number(args.ms);

const git = (...a) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' });
const sha = git('rev-parse', '--short', ref).trim();
const refDir = join(OUT, `ref-${sha}`);
rmSync(refDir, { recursive: true, force: true });
mkdirSync(join(refDir, 'src', 'jwt'), { recursive: true });
const files = git('ls-tree', '--name-only', `${ref}:src/jwt`)
  .split('\n')
  .filter((f) => f.endsWith('.ts'));
for (const f of files) writeFileSync(join(refDir, 'src', 'jwt', f), git('show', `${ref}:src/jwt/${f}`));
writeFileSync(join(refDir, 'src', 'errors.ts'), git('show', `${ref}:src/errors.ts`));
await build({
  entryPoints: files.map((f) => join(refDir, 'src', 'jwt', f)).concat(join(refDir, 'src', 'errors.ts')),
  outdir: join(refDir, 'dist'),
  outbase: join(refDir, 'src'),
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
});
writeFileSync(join(refDir, 'package.json'), '{"type":"module"}');
await buildSource();

const before = await import(join(refDir, 'dist', 'jwt', 'index.js'));
const after = await import(join(OUT, 'dist', 'jwt', 'index.js'));

const ISS = 'https://auth.example.com';
const AUD = 'api';
const fresh = (token) => `${token} `.slice(0, -1);

async function rate(fn, ms) {
  let ops = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  const limit = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    elapsed = process.hrtime.bigint() - start;
    if (batch < 256 && elapsed < limit / 20n) batch *= 2;
  }
  return ops / (Number(elapsed) / 1e9);
}

const rows = [];
for (const alg of ['ES256', 'EdDSA', 'RS256', 'HS256']) {
  let signKey;
  let verifyKey;
  if (alg === 'HS256') signKey = verifyKey = createSecretKey(randomBytes(32));
  else {
    const pair =
      alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 });
    signKey = pair.privateKey;
    verifyKey = pair.publicKey;
  }
  const iat = Math.floor(Date.now() / 1000);
  const token = after.createSigner({ key: { kid: 'k1', alg, key: signKey } })({
    iss: ISS,
    aud: AUD,
    sub: randomUUID(),
    sid: randomUUID(),
    role: 'user',
    jti: randomBytes(12).toString('base64url'),
    iat,
    exp: iat + 900,
  });
  const options = { algorithms: [alg], keys: [{ kid: 'k1', alg, key: verifyKey }], issuer: ISS, audience: AUD };
  const vBefore = before.createVerifier(options);
  const vAfter = after.createVerifier(options);
  const vCached = after.createVerifier({ ...options, cache: { size: 10_000 } });
  const dot = token.lastIndexOf('.');
  const floor = (t) => {
    const signature = Buffer.from(t.slice(dot + 1), 'base64url');
    const data = Buffer.from(t.slice(0, dot), 'latin1');
    if (alg === 'HS256') return timingSafeEqual(createHmac('sha256', verifyKey).update(data).digest(), signature);
    if (alg === 'ES256') return cryptoVerify('sha256', data, { key: verifyKey, dsaEncoding: 'ieee-p1363' }, signature);
    return cryptoVerify(alg === 'EdDSA' ? null : 'sha256', data, verifyKey, signature);
  };
  const contenders = [
    ['node:crypto (floor)', () => floor(fresh(token))],
    [`check() at ${sha}`, () => vBefore.check(fresh(token))],
    ['check() now, cache off', () => vAfter.check(fresh(token))],
    ['check() now, cache on (hits)', () => vCached.check(fresh(token))],
  ];
  for (const [name, fn] of contenders) {
    if (!(name.startsWith('node') ? fn() : fn().ok)) throw new Error(`${alg} ${name}: token did not verify`);
    await rate(fn, 50);
  }
  const perRound = contenders.map(() => []);
  for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < contenders.length; i++) perRound[i].push(await rate(contenders[i][1], MS));
  contenders.forEach(([name], i) => {
    rows.push([
      alg,
      name,
      range(summary(perRound[i].map((x) => 1e6 / x)), sig),
      ratio(summary(perRound[i].map((x, r) => x / perRound[0][r]))),
      i === 0 ? '' : ratio(summary(perRound[i].map((x, r) => x / perRound[1][r]))),
    ]);
  });
}
console.log(`check() of a realistic access token: ${ref} (${sha}) vs now; ${ROUNDS} rounds × ${MS} ms, fresh token string per call\n`);
console.log(table(['alg', 'verifier', 'µs/op', '× floor', `× ${sha}`], rows));
