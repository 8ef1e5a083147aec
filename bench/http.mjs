/**
 * HTTP suite: servers in child processes (bench/http/server.mjs), autocannon in this process,
 * loopback, bounded durations. Each scenario runs `--rounds` times for `--seconds`, scenarios
 * of one group interleaved round by round, so each ratio compares runs taken side by side.
 * Server CPU per request = the server process's CPU time (user + system) during the run ÷
 * requests completed.
 *
 *   node bench/http.mjs [--rounds 3] [--seconds 3] [--connections 50] [--json out.json]
 *        [--only read,refresh,login,flood]
 */
import { fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { generateKeyPair, generateProof } from 'dpop';
import { calculateJwkThumbprint, exportJWK } from 'jose';
import pg from 'pg';
import { summary } from './lib/stats.mjs';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    json: { type: 'string' },
    only: { type: 'string', default: 'read,refresh,login,flood' },
    pg: { type: 'string', default: process.env.LATCHKEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const ROUNDS = Number(args.rounds);
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const ONLY = new Set(args.only.split(','));
const SERVER = fileURLToPath(new URL('./http/server.mjs', import.meta.url));
const SECRET = randomBytes(32).toString('hex');
const log = (line) => process.stderr.write(`  http: ${line}\n`);

// ── servers ───────────────────────────────────────────────────────────────────────────
async function startServer(kind, databaseUrl, env = {}) {
  const child = fork(SERVER, [kind, ...(databaseUrl ? [databaseUrl] : [])], {
    env: { ...process.env, BENCH_SECRET: SECRET, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map();
  let nextId = 1;
  const port = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} server exited (${code}) before ready`)));
    child.on('message', (m) => {
      if (m?.type === 'ready') resolve(m.port);
      else if (pending.has(m?.id)) {
        const { ok, fail } = pending.get(m.id);
        pending.delete(m.id);
        if (m.error) fail(new Error(m.error));
        else ok(m.value);
      }
    });
  });
  const call = (type, payload = {}) =>
    new Promise((ok, fail) => {
      const id = nextId++;
      pending.set(id, { ok, fail });
      child.send({ ...payload, type, id });
    });
  return {
    kind,
    pid: child.pid,
    url: `http://127.0.0.1:${port}`,
    call,
    async stop() {
      if (child.exitCode !== null || !child.connected) return;
      child.send({ type: 'exit' });
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

/**
 * `latchkey serve` itself, as users run it: the published CLI (bench/out/dist/cli/bin.js) with
 * its defaults — request log at `info` as JSON lines (written to a file, as a container runtime
 * would), /metrics, the audit log — on SQLite at `sync` durability or on PostgreSQL. Only the
 * rate limits are raised (a load test measures capacity; the per-session refresh limit of
 * 120/min would answer 429 within a second); their counting still runs. The same interface as
 * `startServer`: CPU time and RSS come from /proc, sessions are made over HTTP.
 */
const BIN = fileURLToPath(new URL('./out/dist/cli/bin.js', import.meta.url));
const CLK_TCK = 100; // getconf CLK_TCK on Linux x64
async function startServe(databaseUrl, { sync = 'normal' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-serve-bench-'));
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    LATCHKEY_DATABASE_URL: databaseUrl === 'sqlite' ? `sqlite:${join(dir, 'latchkey.db')}` : databaseUrl,
    LATCHKEY_SECRET: SECRET,
    LATCHKEY_SQLITE_SYNCHRONOUS: sync,
    LATCHKEY_COOKIE_SECURE: 'false',
    LATCHKEY_RATE_LIMIT_REFRESH_SESSION: '1000000000',
    LATCHKEY_RATE_LIMIT_LOGIN_IP: '1000000000',
    LATCHKEY_RATE_LIMIT_LOGIN_ACCOUNT: '1000000000',
    LATCHKEY_RATE_LIMIT_REGISTER_IP: '1000000000',
  };
  const logFile = openSync(join(dir, 'latchkey.log'), 'a');
  const child = spawn(process.execPath, [BIN, 'serve'], { env, stdio: ['ignore', logFile, 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 30_000; ; ) {
    if (child.exitCode !== null) throw new Error(`latchkey serve exited (${child.exitCode}): ${stderr.slice(0, 500)}`);
    if (Date.now() > deadline) throw new Error(`latchkey serve did not answer /healthz in 30 s: ${stderr.slice(0, 500)}`);
    const ok = await fetch(`${url}/healthz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const register = await fetch(`${url}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: SERVE_PASSWORD }),
  });
  if (register.status !== 201) throw new Error(`register: ${register.status} ${await register.text()}`);
  const proc = (file) => readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
  const handlers = {
    usage() {
      // utime and stime are fields 14 and 15 of /proc/PID/stat (after the parenthesised name).
      const fields = proc('stat')
        .slice(proc('stat').lastIndexOf(')') + 2)
        .split(' ');
      const cpuMicros = ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLK_TCK;
      const status = proc('status');
      const kB = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)[1]) * 1024;
      return { cpuMicros, rss: kB('VmRSS'), maxRss: kB('VmHWM') };
    },
    user: () => ({ email, password: SERVE_PASSWORD }),
    /** `count` signed-in sessions: their refresh tokens (cookie or body transport). */
    async sessions({ count, transport = 'cookie' }) {
      const tokens = [];
      for (let i = 0; i < count; i++) {
        const res = await fetch(`${url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(transport === 'body' ? { 'x-latchkey-transport': 'body' } : {}) },
          body: JSON.stringify({ email, password: SERVE_PASSWORD }),
        });
        const body = await res.json();
        if (res.status !== 200) throw new Error(`login: ${res.status} ${JSON.stringify(body)}`);
        tokens.push(transport === 'body' ? body.refreshToken : COOKIE.exec(res.headers.getSetCookie().join(', '))[1]);
      }
      return tokens;
    },
  };
  return {
    kind: 'latchkey serve',
    pid: child.pid,
    url,
    call: async (type, payload = {}) => handlers[type](payload),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      closeSync(logFile);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
const SERVE_PASSWORD = 'correct horse battery staple';
/** The refresh cookie, as `latchkey serve` (LATCHKEY_COOKIE_SECURE=false) and both baselines name it. */
const COOKIE = /(?:^|,\s*)refreshToken=([^;,]+)/;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ── load ──────────────────────────────────────────────────────────────────────────────
/** One autocannon run with the server's CPU time around it. */
async function load(server, request, { connections = CONNECTIONS, seconds = SECONDS, overallRate } = {}) {
  const before = await server.call('usage');
  const result = await autocannon({
    url: server.url,
    connections,
    duration: seconds,
    ...(overallRate ? { overallRate } : {}),
    requests: [request],
  });
  const after = await server.call('usage');
  const completed = result.requests.total;
  return {
    rps: completed / (result.duration || seconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    completed,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    cpuMicrosPerRequest: completed ? (after.cpuMicros - before.cpuMicros) / completed : Number.NaN,
    serverCpuShare: (after.cpuMicros - before.cpuMicros) / 1e6 / (result.duration || seconds),
    maxRssMB: after.maxRss / 2 ** 20,
  };
}

/** A GET with a bearer token per request: `next()` gives the token (same one, or a cycle). */
function bearerGet(path, next) {
  return {
    method: 'GET',
    path,
    setupRequest(req) {
      req.headers = { ...req.headers, authorization: `Bearer ${next()}` };
      return req;
    },
  };
}

/**
 * A GET with a DPoP-bound token and a fresh proof per request (RFC 9449: `htm`, `htu`, `ath`, a
 * new `jti` each time, so the server's replay cache sees every proof once). Proofs are made by
 * panva's `dpop` package before each run (`prepare`), not while it runs: the load generator
 * shares the two cores with the server, and signing there would measure the client, not the
 * route. `PROOFS_PER_SECOND` is above what one core can verify; running out is logged.
 */
const PROOFS_PER_SECOND = 12_000;
async function dpopScenario(server, path) {
  const keyPair = await generateKeyPair('ES256');
  const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
  const [token] = await server.call('mint', { count: 1, jkt });
  const htu = `${server.url}${path}`;
  let proofs = [];
  let next = 0;
  return {
    async prepare(seconds) {
      const count = Math.ceil(seconds * PROOFS_PER_SECOND);
      proofs = await Promise.all(Array.from({ length: count }, () => generateProof(keyPair, htu, 'GET', undefined, token)));
      next = 0;
    },
    request: () => ({
      method: 'GET',
      path,
      setupRequest(req) {
        if (next === proofs.length) log(`DPoP: all ${proofs.length} pre-signed proofs used; later requests replay one (401)`);
        req.headers = { ...req.headers, authorization: `DPoP ${token}`, dpop: proofs[next++ % proofs.length] };
        return req;
      },
    }),
  };
}

function plainGet(path) {
  // The same client work as the bearer scenarios (setupRequest rebuilds the request each time).
  return { method: 'GET', path, setupRequest: (req) => req };
}

function stats(runs) {
  const keys = ['rps', 'p50', 'p99', 'cpuMicrosPerRequest', 'maxRssMB', 'serverCpuShare'];
  const out = { rounds: runs.length, non2xx: runs.reduce((a, r) => a + r.non2xx, 0), errors: runs.reduce((a, r) => a + r.errors, 0) };
  for (const k of keys) out[k] = summary(runs.map((r) => r[k]));
  return out;
}

/**
 * Runs the scenarios round-robin, `ROUNDS` times, after one short warm-up each. A scenario's
 * `prepare(seconds)` runs before each of its runs, outside the measured time.
 */
async function interleaved(scenarios, { seconds = SECONDS, connections = CONNECTIONS } = {}) {
  for (const s of scenarios) {
    await s.prepare?.(1);
    await load(s.server, s.request(), { seconds: 1, connections });
    await s.after?.();
  }
  const runs = new Map(scenarios.map((s) => [s.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of scenarios) {
      await s.prepare?.(seconds);
      const run = await load(s.server, s.request(), { seconds, connections });
      await s.after?.();
      if (run.non2xx || run.errors) log(`${s.name}: ${run.non2xx} non-2xx, ${run.errors} errors`);
      runs.get(s.name).push(run);
    }
  }
  return runs;
}

function ratioOf(runs, name, baseline, key = 'rps') {
  const a = runs.get(name);
  const b = runs.get(baseline);
  return summary(a.map((run, i) => run[key] / b[i][key]));
}

// ── PostgreSQL: a fresh schema ───────────────────────────────────────────────────────
async function freshPgSchema(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    return { skipped: `PostgreSQL unreachable at ${url} (${error.code ?? error.message})` };
  }
  const schema = `lk_bench_${randomBytes(6).toString('hex')}`;
  await client.query(`create schema ${schema}`);
  await client.end();
  const parsed = new URL(url);
  parsed.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: parsed.toString(),
    schema,
    async drop() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

// ── suites ────────────────────────────────────────────────────────────────────────────
const report = { suite: 'http', rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, node: process.version, results: {} };
const servers = [];

async function readPath() {
  const fastify = await startServer('fastify', 'sqlite');
  const express = await startServer('express', 'sqlite');
  const tutorial = await startServer('tutorial');
  servers.push(fastify, express, tutorial);
  const [token] = await fastify.call('mint', { count: 1 });
  // 0 % hits: twice the default cache size (10,000), cycled: every token misses.
  const many = await fastify.call('mint', { count: 20_000 });
  const [expressToken] = await express.call('mint', { count: 1 });
  const [tutorialToken] = await tutorial.call('mint', { count: 1 });
  const dpop = await dpopScenario(fastify, '/protected');
  const dpopUncached = await dpopScenario(fastify, '/protected-uncached');
  let i = 0;
  const scenarios = [
    { name: 'fastify: no auth', server: fastify, request: () => plainGet('/bare') },
    { name: 'fastify: requireAuth (cache hits)', server: fastify, request: () => bearerGet('/protected', () => token) },
    { name: 'fastify: requireAuth (0 % hits, 20k tokens)', server: fastify, request: () => bearerGet('/protected', () => many[i++ % many.length]) },
    { name: 'fastify: requireAuth, cache off', server: fastify, request: () => bearerGet('/protected-uncached', () => token) },
    { name: 'fastify: requireAuth, DPoP-bound token + proof', server: fastify, prepare: dpop.prepare, request: dpop.request },
    {
      name: 'fastify: requireAuth, cache off, DPoP-bound token + proof',
      server: fastify,
      prepare: dpopUncached.prepare,
      request: dpopUncached.request,
    },
    { name: 'fastify: fast-jwt verify', server: fastify, request: () => bearerGet('/fast-jwt', () => token) },
    { name: 'fastify: fast-jwt verify (its cache)', server: fastify, request: () => bearerGet('/fast-jwt-cached', () => token) },
    { name: 'express: no auth', server: express, request: () => plainGet('/bare') },
    { name: 'express: latchkey/express requireAuth', server: express, request: () => bearerGet('/protected', () => expressToken) },
    { name: 'tutorial: express + jsonwebtoken HS256', server: tutorial, request: () => bearerGet('/protected', () => tutorialToken) },
  ];
  const runs = await interleaved(scenarios);
  const out = {};
  for (const s of scenarios) out[s.name] = stats(runs.get(s.name));
  // Every request of these scenarios must succeed: a route answering 401 fast is not a figure
  // (the cache-off route once measured refusals after a refactor broke its set-up).
  const failing = scenarios.filter((s) => out[s.name].non2xx > 0 || out[s.name].errors > 0);
  if (failing.length > 0) {
    throw new Error(`read path: ${failing.map((s) => `${s.name} (${out[s.name].non2xx} non-2xx, ${out[s.name].errors} errors)`).join('; ')}`);
  }
  const ratios = {
    'requireAuth / no auth (fastify)': ratioOf(runs, 'fastify: requireAuth (cache hits)', 'fastify: no auth'),
    'requireAuth 0 % hits / no auth (fastify)': ratioOf(runs, 'fastify: requireAuth (0 % hits, 20k tokens)', 'fastify: no auth'),
    'requireAuth cache off / no auth (fastify)': ratioOf(runs, 'fastify: requireAuth, cache off', 'fastify: no auth'),
    'requireAuth DPoP / requireAuth Bearer (fastify)': ratioOf(
      runs,
      'fastify: requireAuth, DPoP-bound token + proof',
      'fastify: requireAuth (cache hits)',
    ),
    'requireAuth DPoP / requireAuth cache off (fastify)': ratioOf(
      runs,
      'fastify: requireAuth, DPoP-bound token + proof',
      'fastify: requireAuth, cache off',
    ),
    'requireAuth DPoP, cache off / requireAuth Bearer, cache off (fastify)': ratioOf(
      runs,
      'fastify: requireAuth, cache off, DPoP-bound token + proof',
      'fastify: requireAuth, cache off',
    ),
    'requireAuth cache off / fast-jwt (fastify)': ratioOf(runs, 'fastify: requireAuth, cache off', 'fastify: fast-jwt verify'),
    'fast-jwt / no auth (fastify)': ratioOf(runs, 'fastify: fast-jwt verify', 'fastify: no auth'),
    'fast-jwt cached / no auth (fastify)': ratioOf(runs, 'fastify: fast-jwt verify (its cache)', 'fastify: no auth'),
    'requireAuth / fast-jwt cached (fastify)': ratioOf(runs, 'fastify: requireAuth (cache hits)', 'fastify: fast-jwt verify (its cache)'),
    'latchkey/express / no auth (express)': ratioOf(runs, 'express: latchkey/express requireAuth', 'express: no auth'),
    'tutorial / no auth (express)': ratioOf(runs, 'tutorial: express + jsonwebtoken HS256', 'express: no auth'),
    'latchkey/express / tutorial': ratioOf(runs, 'express: latchkey/express requireAuth', 'tutorial: express + jsonwebtoken HS256'),
    'fastify requireAuth / tutorial': ratioOf(runs, 'fastify: requireAuth (cache hits)', 'tutorial: express + jsonwebtoken HS256'),
  };
  report.results.read = { scenarios: out, ratios };
  await Promise.all([express.stop(), tutorial.stop()]);
  return fastify;
}

/**
 * POST /auth/refresh, body transport, with fresh tokens only. A pool holds the current refresh
 * token of every session (one session per connection); each request takes a token out of the
 * pool and puts the rotated token from its response back, so a token is never presented twice
 * and every request rotates its session (compare-and-swap on the row). Requests still in
 * flight when a run stops are settled afterwards (see `settle`). The same for the tutorial
 * baseline, whose refresh token travels in a cookie.
 */
function refreshChains(server, tokens, transport = 'body', spares = []) {
  const pool = [...tokens];
  const inflight = new Set();
  const headers = transport === 'body' ? { 'content-type': 'application/json', 'x-latchkey-transport': 'body' } : {};
  const tokenOf = (body, setCookie) => (transport === 'body' ? JSON.parse(body).refreshToken : COOKIE.exec([setCookie].flat().join(', '))?.[1]);
  const ask = (token) =>
    transport === 'body' ? { headers, body: JSON.stringify({ refreshToken: token }) } : { headers: { cookie: `refreshToken=${token}` } };
  return {
    request: () => ({
      method: 'POST',
      path: '/auth/refresh',
      headers,
      setupRequest(req, context) {
        // autocannon keeps `context` from setupRequest to onResponse of one request.
        context.token = pool.pop();
        inflight.add(context.token);
        const { headers: h, body } = ask(context.token);
        req.headers = { ...req.headers, ...h };
        if (body) req.body = body;
        return req;
      },
      onResponse(status, body, context, responseHeaders) {
        inflight.delete(context.token);
        // autocannon keeps the raw header name case (Express sends "Set-Cookie").
        const setCookie = Object.entries(responseHeaders ?? {}).find(([name]) => name.toLowerCase() === 'set-cookie')?.[1];
        if (status === 200) pool.push(tokenOf(body, setCookie));
        else {
          if (process.env.BENCH_DEBUG) log(`refresh ${status} ${body}`);
          pool.push(context.token);
        }
      },
    }),
    /** Trades the tokens of requests cut off by the end of a run for their sessions' current ones. */
    async settle() {
      for (const token of [...inflight]) {
        inflight.delete(token);
        const res = await fetch(`${server.url}/auth/refresh`, { method: 'POST', ...ask(token) });
        const body = await res.text();
        if (res.ok) pool.push(tokenOf(body, res.headers.getSetCookie()));
        // Without a grace period (the tutorial), a cut-off request that the server did
        // rotate leaves its chain with no usable token: continue with a spare session.
        else if (spares.length > 0) pool.push(spares.pop());
        else log(`settling a cut-off refresh: ${res.status} ${body}`);
      }
    },
  };
}

/** Retries a server start: other suites on this machine restart PostgreSQL on purpose. */
async function startWithRetry(name, start) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt === 3) throw error;
      log(`${name}: server did not start (${error.message}); retrying`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }
}

/** CPU time (µs) of every PostgreSQL process on this host: the database's side of a request. */
function postgresCpuMicros() {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      /* the process ended */
    }
  }
  return (ticks * 1e6) / CLK_TCK;
}

/**
 * WAL written and statements executed by PostgreSQL (`pg_stat_wal`; `pg_stat_statements` when
 * the server preloads it, else `statements: null`). Cluster-wide: meaningful on a quiet server.
 */
async function pgCounters(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const wal = (await client.query('select wal_records::float8 as records, wal_bytes::float8 as bytes from pg_stat_wal')).rows[0];
    let statements = null;
    try {
      await client.query('create extension if not exists pg_stat_statements');
      const row = (
        await client.query(
          "select sum(calls)::float8 as calls from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database()) and query not like '%pg_stat%'",
        )
      ).rows[0];
      statements = row.calls ?? 0;
    } catch {
      /* not in shared_preload_libraries */
    }
    return { walRecords: wal.records, walBytes: wal.bytes, statements, cpuMicros: postgresCpuMicros() };
  } finally {
    await client.end();
  }
}

/**
 * Refresh: `latchkey serve` as users run it, against two baselines written by us — the seed
 * tutorial's shape and a careful hand-written server (bench/http/server.mjs) — each at
 * Latchkey's default durability (SQLite WAL, synchronous = NORMAL) and at FULL (an fsync per
 * commit) on both sides; `latchkey serve` on PostgreSQL; cookie and body transports.
 */
async function refreshSuite() {
  const schema = await freshPgSchema(args.pg);
  const out = {};
  const ratios = {};
  const extra = {};
  try {
    const scenarios = [];
    const serveTargets = [
      ['latchkey serve, SQLite, cookie', 'sqlite', 'normal', 'cookie'],
      ['latchkey serve, SQLite, body', 'sqlite', 'normal', 'body'],
      ['latchkey serve, SQLite FULL, cookie', 'sqlite', 'full', 'cookie'],
    ];
    if (schema.skipped) {
      log(schema.skipped);
      report.results.refreshSkipped = schema.skipped;
    } else serveTargets.push(['latchkey serve, PostgreSQL, cookie', schema.url, 'normal', 'cookie']);
    for (const [name, url, sync, transport] of serveTargets) {
      const server = await startWithRetry(name, () => startServe(url, { sync }));
      servers.push(server);
      const chains = refreshChains(server, await server.call('sessions', { count: CONNECTIONS, transport }), transport);
      scenarios.push({ name: `refresh: ${name}`, server, request: chains.request, after: chains.settle });
    }
    // Baselines without a grace period: a cut-off request that was rotated leaves its chain
    // without a usable token, so they get spare sessions.
    for (const [kind, label] of [
      ['handwritten', 'hand-written (Express 5 + jsonwebtoken + better-sqlite3)'],
      ['tutorial', 'tutorial (Express + jsonwebtoken)'],
    ]) {
      for (const sync of ['normal', 'full']) {
        const server = await startServer(kind, undefined, { BENCH_SQLITE_SYNCHRONOUS: sync });
        servers.push(server);
        const tokens = await server.call('sessions', { count: CONNECTIONS * (ROUNDS + 2) });
        const chains = refreshChains(server, tokens.slice(0, CONNECTIONS), 'cookie', tokens.slice(CONNECTIONS));
        scenarios.push({ name: `refresh: ${label}, SQLite${sync === 'full' ? ' FULL' : ''}`, server, request: chains.request, after: chains.settle });
      }
    }
    const runs = await interleaved(scenarios);
    for (const sc of scenarios) out[sc.name] = stats(runs.get(sc.name));
    const r = (a, b) => ratioOf(runs, `refresh: ${a}`, `refresh: ${b}`);
    const HAND = 'hand-written (Express 5 + jsonwebtoken + better-sqlite3)';
    const TUT = 'tutorial (Express + jsonwebtoken)';
    ratios['serve SQLite / hand-written SQLite (both NORMAL)'] = r('latchkey serve, SQLite, cookie', `${HAND}, SQLite`);
    ratios['serve SQLite FULL / hand-written SQLite FULL'] = r('latchkey serve, SQLite FULL, cookie', `${HAND}, SQLite FULL`);
    ratios['serve SQLite / tutorial SQLite (both NORMAL)'] = r('latchkey serve, SQLite, cookie', `${TUT}, SQLite`);
    ratios['serve SQLite FULL / tutorial SQLite FULL'] = r('latchkey serve, SQLite FULL, cookie', `${TUT}, SQLite FULL`);
    ratios['serve SQLite body / serve SQLite cookie'] = r('latchkey serve, SQLite, body', 'latchkey serve, SQLite, cookie');
    ratios['serve SQLite FULL / serve SQLite NORMAL'] = r('latchkey serve, SQLite FULL, cookie', 'latchkey serve, SQLite, cookie');
    if (!schema.skipped) ratios['serve PostgreSQL / serve SQLite'] = r('latchkey serve, PostgreSQL, cookie', 'latchkey serve, SQLite, cookie');

    // RSS of `latchkey serve` (SQLite, cookie) after every refresh it answered above.
    const sqliteServe = scenarios[0];
    const refreshes = runs.get(sqliteServe.name).reduce((sum, run) => sum + run.completed, 0);
    extra.rssAfterRefreshes = { refreshes, rssMB: (await sqliteServe.server.call('usage')).rss / 2 ** 20 };

    // PostgreSQL's side of one refresh, measured in a run of its own.
    if (!schema.skipped) {
      const pgScenario = scenarios.find((sc) => sc.name === 'refresh: latchkey serve, PostgreSQL, cookie');
      const before = await pgCounters(args.pg);
      const run = await load(pgScenario.server, pgScenario.request());
      await pgScenario.after();
      await new Promise((resolve) => setTimeout(resolve, 1500)); // backends flush WAL statistics at most once a second
      const after = await pgCounters(args.pg);
      const per = (key) => (after[key] === null || before[key] === null ? null : (after[key] - before[key]) / run.completed);
      extra.postgresPerRefresh = {
        refreshes: run.completed,
        rps: run.rps,
        walBytes: per('walBytes'),
        walRecords: per('walRecords'),
        statements: per('statements'),
        postgresCpuMicros: per('cpuMicros'),
        serverCpuMicros: run.cpuMicrosPerRequest,
        note: 'pg_stat_wal and pg_stat_statements are cluster-wide: figures assume nothing else used this PostgreSQL during the run',
      };
    }
    for (const sc of scenarios) await sc.server.stop();
  } finally {
    if (!schema.skipped) await schema.drop().catch(() => undefined);
  }
  extra.floor = await childSuite('./refresh-floor.mjs', ['--rounds', String(ROUNDS)]);
  report.results.refresh = {
    scenarios: out,
    ratios,
    ...extra,
    method:
      'one session per connection; each request presents the current refresh token and takes the rotated one from the response (no token is presented twice); cookie transport unless named',
  };
}

/** Runs a bench script in a process of its own and returns the JSON it prints. */
function childSuite(script, argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url)), ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`${script} exited ${code}`))));
  });
}

function argon2Floor() {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./argon2.mjs', import.meta.url)), '--seconds', String(SECONDS), '--rounds', String(ROUNDS)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`argon2 floor exited ${code}`))));
  });
}

async function loginSuite() {
  const floor = await argon2Floor();
  const tutorial = await startServer('tutorial');
  servers.push(tutorial);
  // `latchkey serve` as users run it (request log, metrics, audit row per login).
  const serve = await startWithRetry('latchkey serve', () => startServe('sqlite'));
  servers.push(serve);
  const login = (credentials) => () => ({
    method: 'POST',
    path: '/auth/login',
    headers: { 'content-type': 'application/json', 'x-latchkey-transport': 'body' },
    body: JSON.stringify(credentials),
  });
  const runs = await interleaved(
    [
      { name: 'login', server: serve, request: login(await serve.call('user')) },
      { name: 'tutorial login', server: tutorial, request: login(await tutorial.call('user')) },
    ],
    { connections: 16 },
  );
  await tutorial.stop();
  await serve.stop();
  const loginRuns = runs.get('login');
  const tutorialRuns = runs.get('tutorial login');
  report.results.login = {
    argon2VerifyPerSec: summary(floor.verifyPerSec),
    login: stats(loginRuns),
    tutorialLogin: stats(tutorialRuns),
    tutorialToArgon2: summary(tutorialRuns.map((r, i) => r.rps / floor.verifyPerSec[i % floor.verifyPerSec.length])),
    loginToArgon2: summary(loginRuns.map((r, i) => r.rps / floor.verifyPerSec[i % floor.verifyPerSec.length])),
    note: "argon2id m=19 MiB t=2 p=1 via @node-rs/argon2; raw: 8 verifications in flight on libuv's pool of 4 (both cores); login: latchkey serve (SQLite, defaults), 16 connections",
  };
}

/**
 * Latency of the protected route at a fixed rate, alone and while a login flood keeps every
 * hashing thread busy (one per core, at nice 19: src/auth/hashing-pool.ts).
 */
async function floodSuite(fastify) {
  const RATE = 2000;
  const [token] = await fastify.call('mint', { count: 1 });
  const { email, password } = await fastify.call('user');
  const protectedReq = () => bearerGet('/protected', () => token);
  const loginReq = {
    method: 'POST',
    path: '/auth/login',
    headers: { 'content-type': 'application/json', 'x-latchkey-transport': 'body' },
    body: JSON.stringify({ email, password }),
  };
  const quiet = [];
  const flooded = [];
  for (let r = 0; r < ROUNDS; r++) {
    quiet.push(await load(fastify, protectedReq(), { connections: 10, overallRate: RATE }));
    const flood = autocannon({ url: fastify.url, connections: 32, duration: SECONDS + 1, requests: [loginReq] });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const run = await load(fastify, protectedReq(), { connections: 10, overallRate: RATE });
    const f = await flood;
    run.loginRps = f.requests.total / f.duration;
    flooded.push(run);
  }
  report.results.flood = {
    rate: RATE,
    quiet: stats(quiet),
    duringLoginFlood: stats(flooded),
    loginRpsDuringFlood: summary(flooded.map((r) => r.loginRps)),
    note: `protected route at ${RATE} req/s (10 connections); flood: 32 connections of POST /auth/login`,
  };
}

try {
  let fastify;
  if (ONLY.has('read')) {
    log('read path (fastify, express, tutorial)');
    fastify = await readPath();
  }
  if (ONLY.has('login') || ONLY.has('flood')) {
    fastify ??= await startServer('fastify', 'sqlite');
    if (!servers.includes(fastify)) servers.push(fastify);
    if (ONLY.has('login')) {
      log('login vs argon2');
      await loginSuite();
    }
    if (ONLY.has('flood')) {
      log('protected route under a login flood');
      await floodSuite(fastify);
    }
  }
  if (ONLY.has('refresh')) {
    log('refresh (SQLite, PostgreSQL)');
    await refreshSuite();
  }
} finally {
  await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
}
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2));
else console.log(JSON.stringify(report, null, 2));
