/**
 * Footprint: cold start of the standalone server (`latchkey serve`) to the first 200 on
 * /healthz, and its idle RSS, next to the floor (a bare node:http server answering 200).
 * Start time is measured from spawn to the first 200 answer (polled every 5 ms).
 *
 *   node bench/footprint.mjs [--rounds 5] [--json out.json]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { summary } from './lib/stats.mjs';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, json: { type: 'string' } } });
const ROUNDS = Number(args.rounds);
const BIN = fileURLToPath(new URL('./out/dist/cli/bin.js', import.meta.url));
const FLOOR = `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"status":"ok"}'); }).listen(Number(process.env.PORT), '127.0.0.1');`;

function freePort() {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

async function start(command, argv, env) {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(command, argv, { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`server exited before /healthz answered: ${stderr.slice(0, 500)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const ms = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const rssMB = rssOf(child.pid);
  child.kill('SIGTERM');
  await new Promise((resolve) => (exited ? resolve() : child.once('exit', resolve)));
  return { ms, rssMB };
}

const dir = mkdtempSync(join(tmpdir(), 'latchkey-footprint-'));
const env = {
  LATCHKEY_DATABASE_URL: `sqlite:${join(dir, 'latchkey.db')}`,
  LATCHKEY_SECRET: randomBytes(32).toString('hex'),
  LATCHKEY_LOG_LEVEL: 'warn',
  NODE_ENV: 'production',
};
try {
  const first = await start(process.execPath, [BIN, 'serve'], env); // fresh database: migrations, first key
  const floor = [];
  const latchkey = [];
  for (let r = 0; r < ROUNDS; r++) {
    floor.push(await start(process.execPath, ['-e', FLOOR], {}));
    latchkey.push(await start(process.execPath, [BIN, 'serve'], env));
  }
  const report = {
    suite: 'footprint',
    rounds: ROUNDS,
    firstStartMs: first.ms,
    coldStartMs: summary(latchkey.map((r) => r.ms)),
    idleRssMB: summary(latchkey.map((r) => r.rssMB)),
    floorStartMs: summary(floor.map((r) => r.ms)),
    floorIdleRssMB: summary(floor.map((r) => r.rssMB)),
    startToFloor: summary(latchkey.map((r, i) => r.ms / floor[i].ms)),
    note: 'latchkey serve on SQLite (existing database; the first start also migrates and creates the first key); floor: a bare node:http server',
  };
  if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2));
  else console.log(JSON.stringify(report, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
