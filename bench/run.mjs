/**
 * `npm run bench`: the whole benchmark — tokens, HTTP, footprint — in about five minutes.
 *
 * 1. Transpiles src/ to bench/out/dist (the current source as plain JavaScript).
 * 2. Runs each suite in its own Node process (tokens.mjs, http.mjs, footprint.mjs).
 * 3. Prints the tables and writes bench/out/results.json and bench/out/results.md.
 *
 * Options: --only tokens,http,footprint   --quick (1 round, short runs: a smoke test of the
 * harness, not figures)   --ref <git ref> (benchmark src/ as committed there instead of the
 * working tree)   plus per-suite knobs: --rounds, --ms, --seconds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildSource, OUT } from './lib/build.mjs';
import { range, ratio, sig, table } from './lib/stats.mjs';
import { targetsTable } from './lib/targets.mjs';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'tokens,http,footprint' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    ms: { type: 'string' },
    seconds: { type: 'string' },
    ref: { type: 'string' },
  },
});
const ONLY = new Set(args.only.split(','));
const here = (file) => fileURLToPath(new URL(file, import.meta.url));

function runSuite(script, extra) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [here(script), ...extra], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited with ${code}`))));
  });
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim(),
    cores: cpus.length,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

const started = new Date();
mkdirSync(OUT, { recursive: true });
const load = { start: os.loadavg() };
process.stderr.write(`bench: building ${args.ref ? `src at ${args.ref}` : 'src (working tree)'} → bench/out/dist\n`);
await buildSource({ ref: args.ref });

function source() {
  try {
    const git = (...a) => execFileSync('git', a, { cwd: here('..'), encoding: 'utf8' });
    if (args.ref) return { commit: git('rev-parse', '--short', args.ref).trim(), uncommittedInSrc: [], ref: args.ref };
    const dirty = git('status', '--porcelain', '--', 'src')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3));
    return { commit: git('rev-parse', '--short', 'HEAD').trim(), uncommittedInSrc: dirty };
  } catch {
    return { commit: 'unknown', uncommittedInSrc: [] };
  }
}

const results = {
  startedAt: started.toISOString(),
  machine: machine(),
  source: source(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
};
const quick = args.quick;
const r = (def) => args.rounds ?? (quick ? '1' : def);

if (ONLY.has('tokens')) {
  process.stderr.write('bench: tokens\n');
  const file = join(OUT, 'tokens.json');
  await runSuite('./tokens.mjs', ['--rounds', r('5'), '--ms', args.ms ?? (quick ? '30' : '150'), '--json', file]);
  results.tokens = JSON.parse(readFileSync(file, 'utf8'));
}
if (ONLY.has('http')) {
  process.stderr.write('bench: http\n');
  load.beforeHttp = os.loadavg();
  const file = join(OUT, 'http.json');
  await runSuite('./http.mjs', ['--rounds', r('3'), '--seconds', args.seconds ?? (quick ? '1' : '3'), '--json', file]);
  results.http = JSON.parse(readFileSync(file, 'utf8'));
}
if (ONLY.has('footprint')) {
  process.stderr.write('bench: footprint\n');
  const file = join(OUT, 'footprint.json');
  await runSuite('./footprint.mjs', ['--rounds', r('5'), '--json', file]);
  results.footprint = JSON.parse(readFileSync(file, 'utf8'));
}
load.end = os.loadavg();
results.loadAverage = load;
results.finishedAt = new Date().toISOString();
results.seconds = Math.round((Date.now() - started.getTime()) / 1000);

// ── tables ────────────────────────────────────────────────────────────────────────────
const md = [];
const la = (x) => x.map((v) => v.toFixed(2)).join(' / ');
md.push(`Run ${results.startedAt} → ${results.finishedAt} (${results.seconds} s): \`${results.command}\``);
md.push(
  results.source.ref
    ? `Source: src/ at ${results.source.ref} (commit ${results.source.commit}, extracted with git archive)`
    : `Source: commit ${results.source.commit}${results.source.uncommittedInSrc.length ? ` plus uncommitted changes in ${results.source.uncommittedInSrc.join(', ')}` : ''} (transpiled from the working tree)`,
);
md.push(
  `Machine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGB} GB, ${results.machine.platform}, Node ${results.machine.node}`,
);
md.push(
  `Load average (1/5/15 min): at start ${la(load.start)}${load.beforeHttp ? `, before HTTP ${la(load.beforeHttp)}` : ''}, at end ${la(load.end)}`,
);
md.push('\n## Targets (issues 8, 19 and 20; "met" judges the median)\n');
md.push(targetsTable(results));

const OPS = [
  ['verifyValid', 'verify, valid token'],
  ['verifyBadSignature', 'verify, bad signature'],
  ['verifyExpired', 'verify, expired token'],
  ['verifyWrongKid', 'verify, unknown kid (signed by another key)'],
  ['sign', 'sign'],
];
if (results.tokens) {
  const t = results.tokens;
  md.push(
    `\n## Tokens (median of ${t.rounds} rounds × ${t.msPerRound} ms per contender, min–max in brackets; ratio = ops/s ÷ the floor's ops/s in the same round)`,
  );
  for (const [alg, { tokenLength, results: byOp }] of Object.entries(t.results)) {
    md.push(`\n### ${alg} (access token of ${tokenLength} characters)\n`);
    const rows = [];
    for (const [op, label] of OPS) {
      for (const row of byOp[op] ?? []) rows.push([label, row.name, range(row.usPerOp, sig), range(row.opsPerSec), ratio(row.ratioToFloor)]);
    }
    md.push(table(['operation', 'contender', 'µs/op', 'ops/s', '× floor'], rows));
  }
}
if (results.http) {
  const h = results.http.results;
  const c = results.http;
  md.push(
    `\n## HTTP (autocannon in another process, loopback, ${c.connections} connections, ${c.rounds} rounds × ${c.seconds} s, scenarios interleaved; server CPU = server process CPU time ÷ requests)`,
  );
  // autocannon's latencies are whole milliseconds: 0 means under 1 ms.
  const ms = (x) => (x === 0 ? '<1' : sig(x));
  const row = (name, s) => [
    name,
    range(s.rps),
    range(s.p50, ms),
    range(s.p99, ms),
    range(s.cpuMicrosPerRequest, sig),
    range(s.maxRssMB, sig),
    s.non2xx + s.errors,
  ];
  const head = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'max RSS MB', 'non-2xx/errors'];
  if (h.read) {
    md.push('\n### Protected route (GET, bearer token; ES256 for Latchkey and fast-jwt, HS256 for the tutorial)\n');
    md.push(
      table(
        head,
        Object.entries(h.read.scenarios).map(([n, s]) => row(n, s)),
      ),
    );
    md.push(
      `\n${table(
        ['ratio (req/s, same round)', 'median (min–max)'],
        Object.entries(h.read.ratios).map(([n, s]) => [n, ratio(s)]),
      )}`,
    );
  }
  if (h.refresh) {
    md.push(`\n### POST /auth/refresh (every request a fresh token: ${h.refresh.method})\n`);
    md.push(
      table(
        head,
        Object.entries(h.refresh.scenarios).map(([n, s]) => row(n, s)),
      ),
    );
    md.push(
      `\n${table(
        ['ratio (req/s, same round)', 'median (min–max)'],
        Object.entries(h.refresh.ratios ?? {}).map(([n, s]) => [n, ratio(s)]),
      )}`,
    );
    const f = h.refresh.floor;
    if (f) {
      md.push('\n#### The floor of one refresh on SQLite (bench/refresh-floor.mjs: each part alone, CPU µs per call)\n');
      md.push(
        table(
          ['part', 'CPU µs'],
          [
            ['ES256 sign of an access token (node:crypto)', range(f.microsPerCall.es256, sig)],
            ['HMAC-SHA256 of the refresh token', range(f.microsPerCall.hmac, sig)],
            ["the rotation's SQLite statements (better-sqlite3, Latchkey's SQL), NORMAL", range(f.microsPerCall.sqliteNormal, sig)],
            ['the same at FULL', range(f.microsPerCall.sqliteFull, sig)],
            ['floor, NORMAL (sum)', range(f.floorNormalMicros, sig)],
            ['floor, FULL (sum)', range(f.floorFullMicros, sig)],
          ],
        ),
      );
    }
    const p = h.refresh.postgresPerRefresh;
    if (p) {
      md.push(`\n#### PostgreSQL per refresh (one run of ${p.refreshes} refreshes at ${Math.round(p.rps)} req/s; ${p.note})\n`);
      md.push(
        table(
          ['per refresh', 'value'],
          [
            [
              'statements (pg_stat_statements)',
              p.statements === null ? 'not measured (pg_stat_statements not in shared_preload_libraries)' : p.statements.toFixed(2),
            ],
            ['WAL records (pg_stat_wal)', p.walRecords.toFixed(1)],
            ['WAL bytes (pg_stat_wal)', Math.round(p.walBytes).toLocaleString('en')],
            ['PostgreSQL CPU µs (every postgres process)', sig(p.postgresCpuMicros)],
            ['latchkey serve CPU µs', sig(p.serverCpuMicros)],
          ],
        ),
      );
    }
    if (h.refresh.rssAfterRefreshes) {
      const a = h.refresh.rssAfterRefreshes;
      md.push(`\nRSS of \`latchkey serve\` (SQLite) after ${a.refreshes.toLocaleString('en')} refreshes: ${sig(a.rssMB)} MB.`);
    }
  }
  if (h.refreshSkipped) md.push(`\nPostgreSQL skipped: ${h.refreshSkipped}`);
  if (h.login) {
    md.push(`\n### POST /auth/login against the argon2 floor (${h.login.note})\n`);
    md.push(
      table(
        ['measure', 'median (min–max)'],
        [
          ['raw argon2id verify/s (both cores)', range(h.login.argon2VerifyPerSec)],
          ['Latchkey login req/s', range(h.login.login.rps)],
          ['Latchkey login ÷ raw argon2', ratio(h.login.loginToArgon2)],
          ['Latchkey login p50 / p99 ms', `${ms(h.login.login.p50.median)} / ${ms(h.login.login.p99.median)}`],
          ['Latchkey login server CPU µs/req', range(h.login.login.cpuMicrosPerRequest, sig)],
          ['tutorial login req/s', range(h.login.tutorialLogin.rps)],
          ['tutorial login ÷ raw argon2', ratio(h.login.tutorialToArgon2)],
          ['tutorial login p50 / p99 ms', `${ms(h.login.tutorialLogin.p50.median)} / ${ms(h.login.tutorialLogin.p99.median)}`],
        ],
      ),
    );
  }
  if (h.flood) {
    md.push(`\n### Protected route while a login flood saturates hashing (${h.flood.note})\n`);
    const fl = (name, s) => [name, range(s.rps), range(s.p50, ms), range(s.p99, ms), range(s.serverCpuShare, sig)];
    md.push(
      table(
        ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'server CPU (cores busy)', 'logins/s'],
        [
          [...fl('protected, quiet', h.flood.quiet), '—'],
          [...fl('protected, during a login flood', h.flood.duringLoginFlood), range(h.flood.loginRpsDuringFlood)],
        ],
      ),
    );
  }
}
if (results.footprint) {
  const f = results.footprint;
  md.push(`\n## Footprint (${f.note}; ${f.rounds} rounds)\n`);
  md.push(
    table(
      ['measure', 'latchkey serve', 'floor (bare node:http)'],
      [
        ['cold start → /healthz 200, ms', range(f.coldStartMs, sig), range(f.floorStartMs, sig)],
        ['first start (empty database), ms', sig(f.firstStartMs), '—'],
        ['idle RSS, MB (1 s after ready)', range(f.idleRssMB, sig), range(f.floorIdleRssMB, sig)],
      ],
    ),
  );
  const read = results.http?.results.read?.scenarios;
  if (read) {
    md.push('\nRSS under load (HTTP suite, server process, max sampled every 50 ms):\n');
    md.push(
      table(
        ['server', 'max RSS MB'],
        [
          ['Fastify app, requireAuth at full speed (cache hits)', range(read['fastify: requireAuth (cache hits)'].maxRssMB, sig)],
          [
            'Fastify app, requireAuth with 20k distinct tokens (cache full)',
            range(read['fastify: requireAuth (0 % hits, 20k tokens)'].maxRssMB, sig),
          ],
          ['Express app, latchkey/express requireAuth', range(read['express: latchkey/express requireAuth'].maxRssMB, sig)],
          ['tutorial app (Express + jsonwebtoken)', range(read['tutorial: express + jsonwebtoken HS256'].maxRssMB, sig)],
        ],
      ),
    );
  }
}
const text = md.join('\n');
writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 2));
writeFileSync(join(OUT, 'results.md'), `${text}\n`);
console.log(text);
process.stderr.write(`\nbench: done in ${results.seconds} s — bench/out/results.json, bench/out/results.md\n`);
