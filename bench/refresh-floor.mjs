/**
 * The floor of one refresh on SQLite: what any server doing Latchkey's refresh must spend, each
 * part measured alone in one process, nothing else running in it —
 *   - one ES256 signature of an access token shaped like Latchkey's (node:crypto, P-256);
 *   - one HMAC-SHA256 of a refresh token (the MAC that finds its session);
 *   - the SQLite statements of a rotation, run by better-sqlite3 directly, with Latchkey's own
 *     SQL (compiled from src/store/statements.ts) on a Latchkey database: the compare-and-swap,
 *     the read of session and user, the audit row, in one transaction, in WAL at `synchronous`
 *     NORMAL and FULL.
 * The sum is the CPU a refresh cannot go below; `latchkey serve`'s figure adds HTTP (parsing,
 * routing, the cookie, the answer), the request log and metrics. Figures are CPU time (an
 * fsync at FULL waits off the CPU: FULL costs throughput, little CPU).
 *
 *   node bench/refresh-floor.mjs [--ms 1500] [--json out.json]
 */
import { createHmac, generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { summary } from './lib/stats.mjs';

const { values: args } = parseArgs({
  options: { ms: { type: 'string', default: '1500' }, rounds: { type: 'string', default: '5' }, json: { type: 'string' } },
});
const MS = Number(args.ms);
const ROUNDS = Number(args.rounds);

/** CPU µs (user + system) per call of `fn`, over `MS` milliseconds (after a short warm-up). */
function perCall(fn) {
  for (let i = 0; i < 200; i++) fn(i);
  let n = 0;
  const cpu0 = process.cpuUsage();
  const end = process.hrtime.bigint() + BigInt(MS) * 1_000_000n;
  while (process.hrtime.bigint() < end) for (let i = 0; i < 50; i++) fn(n++);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

// ES256: header and claims as src/auth/access-token.ts issues them (sizes matter little).
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const header = b64({ alg: 'ES256', typ: 'at+jwt', kid: randomBytes(16).toString('base64url') });
const claims = {
  iss: 'https://auth.bench.test',
  aud: 'bench-api',
  sub: randomUUID(),
  sid: randomUUID(),
  role: 'user',
  amr: ['pwd'],
  acr: 'aal1',
  auth_time: 1_700_000_000,
  jti: randomBytes(12).toString('base64url'),
  iat: 1_700_000_000,
  exp: 1_700_000_900,
};
const es256 = () => sign('sha256', Buffer.from(`${header}.${b64(claims)}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
const macKey = randomBytes(32);
const token = randomBytes(32).toString('base64url');
const hmac = () => createHmac('sha256', macKey).update(token).digest();

/** A migrated Latchkey database with one user and one session, and the rotation on it. */
async function rotationOn(synchronous) {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-floor-'));
  const path = join(dir, 'latchkey.db');
  const { createLatchkey } = await import('./out/dist/latchkey.js');
  const latchkey = await createLatchkey({
    databaseUrl: `sqlite:${path}`,
    secret: randomBytes(32),
    issuer: 'https://auth.bench.test',
    logLevel: 'silent',
    sqliteSynchronous: synchronous,
  });
  await latchkey.auth.createUser('floor@example.com', 'correct horse battery staple');
  await latchkey.auth.login('floor@example.com', 'correct horse battery staple', { ip: '127.0.0.1', userAgent: 'bench' });
  await latchkey.close();

  const { compileStatements, auditArgs } = await import('./out/dist/store/statements.js');
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  const kysely = new Kysely({ dialect: new SqliteDialect({ database: db }) });
  const s = compileStatements(kysely, 'sqlite');
  const rotate = db.prepare(s.rotateSession.sql);
  const read = db.prepare(s.findSessionWithUser.sql);
  const audit = db.prepare(s.insertAudit.sql);
  const { id, counter } = db.prepare('select id, counter from sessions').get();
  let expected = counter;
  const farFuture = Date.now() + 86_400_000;
  const once = db.transaction(() => {
    const now = Date.now();
    const swapped = rotate.run(...s.rotateSession.values([id, expected, now, farFuture, null])).changes === 1;
    const row = read.get(...s.findSessionWithUser.values([id]));
    if (!swapped || !row) throw new Error('the floor rotation did not rotate');
    audit.run(...s.insertAudit.values(auditArgs({ type: 'refresh', at: now, user_id: row.user_id, session_id: id, ip: '127.0.0.1', detail: null })));
    expected++;
  });
  return {
    run: once,
    close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const normal = await rotationOn('normal');
const full = await rotationOn('full');
const rows = { es256: [], hmac: [], sqliteNormal: [], sqliteFull: [] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    rows.es256.push(perCall(es256));
    rows.hmac.push(perCall(hmac));
    rows.sqliteNormal.push(perCall(normal.run));
    rows.sqliteFull.push(perCall(full.run));
  }
} finally {
  normal.close();
  full.close();
}
const report = {
  suite: 'refresh-floor',
  rounds: ROUNDS,
  microsPerCall: Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, summary(v)])),
  floorNormalMicros: summary(rows.es256.map((v, i) => v + rows.hmac[i] + rows.sqliteNormal[i])),
  floorFullMicros: summary(rows.es256.map((v, i) => v + rows.hmac[i] + rows.sqliteFull[i])),
};
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2));
else console.log(JSON.stringify(report, null, 2));
