/**
 * Token suite: sign and verify (valid, bad signature, expired, wrong kid) for ES256, EdDSA,
 * RS256 and HS256 — Latchkey against the floor (`node:crypto` alone) and the peers.
 *
 * Method: for one (algorithm, operation), every contender runs for `--ms` milliseconds per
 * round, one after the other in the same process, and rounds repeat (`--rounds`), so each
 * ratio to the floor is taken inside one round (same machine state) and the figures are the
 * median with min–max over rounds. Async APIs (jose) are awaited one call at a time, as a
 * request handler would.
 *
 * Run alone: node bench/tokens.mjs [--rounds 5] [--ms 150] [--json out.json]
 * (needs bench/out/dist: `node bench/lib/build.mjs`).
 */
import {
  createHmac,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
} from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import jsonwebtoken from 'jsonwebtoken';
import { createSigner as fastSigner, createVerifier as fastVerifier } from 'fast-jwt';
import * as jose from 'jose';
import { summary } from './lib/stats.mjs';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    ms: { type: 'string', default: '150' },
    json: { type: 'string' },
    algs: { type: 'string', default: 'ES256,EdDSA,RS256,HS256' },
  },
});
const ROUNDS = Number(args.rounds);
const MS = Number(args.ms);
const ALGS = args.algs.split(',');

const lk = await import('./out/dist/jwt/index.js');

const ISS = 'https://auth.example.com';
const AUD = 'api';
const nowS = () => Math.floor(Date.now() / 1000);

/** The claims Latchkey issues (auth/service.ts #issue): a realistic access token. */
function accessClaims(overrides = {}) {
  const iat = nowS();
  return {
    iss: ISS,
    aud: AUD,
    sub: randomUUID(),
    sid: randomUUID(),
    role: 'user',
    jti: randomBytes(12).toString('base64url'),
    iat,
    exp: iat + 900,
    ...overrides,
  };
}

function keysFor(alg) {
  if (alg === 'HS256') {
    const secret = randomBytes(32);
    const key = createSecretKey(secret);
    return { signKey: key, verifyKey: key, secret, pemPrivate: secret, pemPublic: secret };
  }
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    signKey: privateKey,
    verifyKey: publicKey,
    pemPrivate: privateKey.export({ format: 'pem', type: 'pkcs8' }),
    pemPublic: publicKey.export({ format: 'pem', type: 'spki' }),
  };
}

// ── the floor: node:crypto alone ──────────────────────────────────────────────────────
/** The bare signature check of a compact token: split, decode the signature, verify. */
function rawVerifier(alg, key) {
  return (token) => {
    const dot = token.lastIndexOf('.');
    const signature = Buffer.from(token.slice(dot + 1), 'base64url');
    const data = Buffer.from(token.slice(0, dot), 'latin1');
    switch (alg) {
      case 'HS256': {
        const mac = createHmac('sha256', key).update(data).digest();
        return mac.length === signature.length && timingSafeEqual(mac, signature);
      }
      case 'ES256':
        return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'EdDSA':
        return cryptoVerify(null, data, key, signature);
      default:
        return cryptoVerify('sha256', data, key, signature);
    }
  };
}

/** The bare signing of the same header and claims: JSON, base64url, one crypto call. */
function rawSigner(alg, kid, key) {
  const header = Buffer.from(JSON.stringify({ alg, kid, typ: 'at+jwt' })).toString('base64url');
  return (claims) => {
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const data = Buffer.from(input, 'latin1');
    const sig =
      alg === 'HS256'
        ? createHmac('sha256', key).update(data).digest()
        : alg === 'ES256'
          ? cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
          : cryptoSign(alg === 'EdDSA' ? null : 'sha256', data, key);
    return `${input}.${sig.toString('base64url')}`;
  };
}

// ── measurement ───────────────────────────────────────────────────────────────────────
/** Ops per second of `fn` (sync or async) over ~`ms` milliseconds. */
async function rate(fn, isAsync, ms) {
  let ops = 0;
  let batch = 1;
  const start = process.hrtime.bigint();
  const limit = BigInt(ms) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < limit) {
    if (isAsync) for (let i = 0; i < batch; i++) await fn();
    else for (let i = 0; i < batch; i++) fn();
    ops += batch;
    elapsed = process.hrtime.bigint() - start;
    if (batch < 256 && elapsed < limit / 20n) batch *= 2;
  }
  return ops / (Number(elapsed) / 1e9);
}

/** Throws when a contender does not give the expected outcome (a benchmark of the wrong thing). */
async function expectOutcome(name, fn, isAsync, expectOk) {
  let ok;
  try {
    const r = isAsync ? await fn() : fn();
    ok = r !== false && !(r && typeof r === 'object' && r.ok === false);
  } catch {
    ok = false;
  }
  if (ok !== expectOk) throw new Error(`${name}: expected ${expectOk ? 'success' : 'failure'}`);
}

/**
 * Runs contenders side by side. Each contender: { name, fn, async?, expectOk }.
 * Returns rows with ops/s and ratio to the first contender (the floor) per round.
 */
async function compare(list, expectOk) {
  // Failures throw in the peers: the catch is part of what their users pay.
  const contenders = list.map((c) => ({
    ...c,
    fn: c.async
      ? async () => {
          try {
            return await c.fn();
          } catch {
            return false;
          }
        }
      : () => {
          try {
            return c.fn();
          } catch {
            return false;
          }
        },
  }));
  for (const c of contenders) await expectOutcome(c.name, c.fn, c.async, c.expectOk ?? expectOk);
  // Warm-up: JIT every path before timing.
  for (const c of contenders) await rate(c.fn, c.async, Math.min(60, MS));
  const perRound = contenders.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < contenders.length; i++) perRound[i].push(await rate(contenders[i].fn, contenders[i].async, MS));
  }
  const floor = perRound[0];
  return contenders.map((c, i) => ({
    name: c.name,
    opsPerSec: summary(perRound[i]),
    usPerOp: summary(perRound[i].map((x) => 1e6 / x)),
    ratioToFloor: summary(perRound[i].map((x, r) => x / floor[r])),
    note: c.note,
  }));
}

// ── contenders per algorithm ──────────────────────────────────────────────────────────
async function suiteFor(alg) {
  const kid = `${alg.toLowerCase()}-1`;
  const keys = keysFor(alg);
  const other = keysFor(alg); // "wrong kid": a different key with an unknown kid
  const vkey = { kid, alg, key: keys.verifyKey };
  const verifierOptions = { algorithms: [alg], keys: [vkey], issuer: ISS, audience: AUD };
  const lkSign = lk.createSigner({ key: { kid, alg, key: keys.signKey } });
  const lkVerifier = lk.createVerifier(verifierOptions);
  const lkCached = lk.createVerifier({ ...verifierOptions, cache: { size: 10_000 } });
  const CACHE_MISS_SIZE = 1024;
  const lkMissing = lk.createVerifier({ ...verifierOptions, cache: { size: CACHE_MISS_SIZE } });

  const valid = lkSign(accessClaims());
  const [h, p, s] = valid.split('.');
  const badSig = `${h}.${p}.${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
  const expired = lkSign(accessClaims({ iat: nowS() - 3600, exp: nowS() - 1800 }));
  const wrongKid = lk.createSigner({ key: { kid: 'unknown-kid', alg, key: other.signKey } })(accessClaims());
  // 0 % hit rate: a cycle of distinct tokens twice the cache size (CLOCK misses every one).
  const pool = Array.from({ length: 2 * CACHE_MISS_SIZE }, () => lkSign(accessClaims()));
  let cursor = 0;

  const raw = rawVerifier(alg, keys.verifyKey);
  const jwtAlg = alg;
  const hasJsonwebtoken = alg !== 'EdDSA'; // jsonwebtoken has no EdDSA
  // jsonwebtoken at its fastest: a KeyObject (a string or PEM is converted on every call).
  const jwtKey = keys.verifyKey;
  const jwtVerifyOpts = { algorithms: [jwtAlg], issuer: ISS, audience: AUD };
  const fastKey = alg === 'HS256' ? keys.secret : keys.pemPublic;
  const fastOpts = { key: fastKey, algorithms: [alg], allowedIss: ISS, allowedAud: AUD };
  const fjwt = fastVerifier(fastOpts);
  const fjwtCached = fastVerifier({ ...fastOpts, cache: 10_000 });
  const joseOpts = { issuer: ISS, audience: AUD, algorithms: [alg], typ: 'at+jwt' };
  const joseKey = keys.verifyKey;
  // jose's kid-aware form (what an app with a key set uses): a local JWKS.
  const joseJwks =
    alg === 'HS256'
      ? async (header) => {
          if (header.kid !== kid) throw new jose.errors.JWKSNoMatchingKey();
          return keys.verifyKey;
        }
      : jose.createLocalJWKSet({ keys: [{ ...(await jose.exportJWK(keys.verifyKey)), kid, alg }] });

  // Every call gets a fresh string with the token's text, as every request does (a string
  // that was used before carries its cached hash, which would flatter any map lookup).
  const fresh = (token) => `${token} `.slice(0, -1);
  const verifyContenders = (t, { cacheRows = true, floorOk } = {}) => {
    return rows(() => fresh(t), cacheRows, floorOk);
  };
  const rows = (T, cacheRows, floorOk) => [
    { name: 'node:crypto (floor)', fn: () => raw(T()), expectOk: floorOk },
    { name: 'Latchkey', fn: () => lkVerifier.check(T()) },
    ...(cacheRows
      ? [
          { name: 'Latchkey, cache 100 % hits', fn: () => lkCached.check(T()) },
          { name: 'Latchkey, cache 0 % hits', fn: () => lkMissing.check(fresh(pool[cursor++ & (pool.length - 1)])), expectOk: true },
        ]
      : [{ name: 'Latchkey, cache on', fn: () => lkCached.check(T()) }]),
    ...(hasJsonwebtoken ? [{ name: 'jsonwebtoken', fn: () => jsonwebtoken.verify(T(), jwtKey, jwtVerifyOpts) }] : []),
    { name: 'fast-jwt', fn: () => fjwt(T()) },
    ...(cacheRows
      ? [{ name: 'fast-jwt, cache 100 % hits', fn: () => fjwtCached(T()) }]
      : [{ name: 'fast-jwt, cache on', fn: () => fjwtCached(T()) }]),
    { name: 'jose (async)', fn: () => jose.jwtVerify(T(), joseKey, joseOpts), async: true },
  ];

  const out = {};
  out.verifyValid = await compare(verifyContenders(valid), true);
  out.verifyBadSignature = await compare(verifyContenders(badSig, { cacheRows: false }), false);
  out.verifyExpired = await compare(verifyContenders(expired, { cacheRows: false, floorOk: true }), false);
  // The floor of a wrong-kid token is the same signature check a fixed-key verifier does.
  out.verifyWrongKid = await compare(
    [
      { name: 'node:crypto (floor, one verify)', fn: () => raw(fresh(wrongKid)), expectOk: false },
      { name: 'Latchkey', fn: () => lkVerifier.check(fresh(wrongKid)) },
      ...(hasJsonwebtoken ? [{ name: 'jsonwebtoken (fixed key)', fn: () => jsonwebtoken.verify(fresh(wrongKid), jwtKey, jwtVerifyOpts) }] : []),
      { name: 'fast-jwt (fixed key)', fn: () => fjwt(fresh(wrongKid)) },
      { name: 'jose (async, key set by kid)', fn: () => jose.jwtVerify(fresh(wrongKid), joseJwks, joseOpts), async: true },
    ],
    false,
  );

  const claims = accessClaims();
  const rawSign = rawSigner(alg, kid, keys.signKey);
  const fsign = fastSigner({
    key: alg === 'HS256' ? keys.secret : keys.pemPrivate,
    algorithm: alg,
    kid,
    header: { typ: 'at+jwt' },
    noTimestamp: true,
  });
  const joseSignKey = keys.signKey;
  out.sign = await compare(
    [
      { name: 'node:crypto (floor)', fn: () => rawSign(claims) },
      { name: 'Latchkey', fn: () => lkSign(claims) },
      ...(hasJsonwebtoken
        ? [
            {
              name: 'jsonwebtoken',
              fn: () => jsonwebtoken.sign(claims, keys.signKey, { algorithm: alg, keyid: kid, header: { typ: 'at+jwt' }, noTimestamp: true }),
            },
          ]
        : []),
      { name: 'fast-jwt', fn: () => fsign(claims) },
      { name: 'jose (async)', fn: () => new jose.SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'at+jwt' }).sign(joseSignKey), async: true },
    ],
    true,
  );
  return { tokenLength: valid.length, results: out };
}

const started = Date.now();
const results = {};
for (const alg of ALGS) {
  results[alg] = await suiteFor(alg);
  process.stderr.write(`  tokens: ${alg} done (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
}
const report = { suite: 'tokens', rounds: ROUNDS, msPerRound: MS, node: process.version, results };
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2));
else console.log(JSON.stringify(report, null, 2));
