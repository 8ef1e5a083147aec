/**
 * Several real `latchkey serve` processes on one PostgreSQL schema (and one Redis), as a
 * user would run them behind a load balancer: the multi-instance and outage suites use it.
 *
 * Each cluster gets a fresh `lk_test_<random>` schema (dropped on close), a fresh shared
 * `LATCHKEY_SECRET`, plain-http cookies (`LATCHKEY_COOKIE_SECURE=false` → cookie `refreshToken`),
 * and instances started at the same moment (so their migrations race, as in production).
 */
import { randomBytes } from 'node:crypto';
import { freePort } from '../helpers/ports.js';
import { connect } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { spawnCli, runCli, waitForHttp, type CliResult } from '../helpers/cli.js';
import { createTestSchema, probePostgres, redactUrl, TEST_PG_URL, type TestSchema } from '../helpers/postgres.js';
import { TestClient, type TestResponse } from '../helpers/http-client.js';
import { describeWithServices } from '../helpers/services.js';

const TEST_REDIS_URL = process.env.LATCHKEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Cookie name with `LATCHKEY_COOKIE_SECURE=false` (docs/http-api.md#the-refresh-cookie). */
const COOKIE = 'refreshToken';
export const PASSWORD = 'correct horse battery staple';

export interface Instance {
  name: string;
  port: number;
  baseUrl: string;
  client: TestClient;
  child: ChildProcess;
  /** Everything the process wrote so far (for failure messages). */
  output(): string;
  /** Whether the process is still running. */
  alive(): boolean;
  /** SIGTERM, then SIGKILL after 15 s; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export interface Cluster {
  schema: TestSchema;
  /** The environment every instance shares (without PORT); also what admin CLI calls need. */
  env: Record<string, string>;
  instances: Instance[];
  /** Runs an admin command (`latchkey keys rotate`, …) against the cluster's database. */
  cli(args: string[], stdin?: string): Promise<CliResult>;
  close(): Promise<void>;
}

/** `onOutput` sees the process's output as it arrives, before the instance is ready. */
export async function startInstance(
  name: string,
  env: Record<string, string>,
  options: { onOutput?: (output: string) => void } = {},
): Promise<Instance> {
  const port = await freePort();
  const child = spawnCli(['serve'], { env: { ...env, PORT: String(port), HOST: '127.0.0.1' } });
  let output = '';
  const collect = (d: Buffer) => {
    output += d;
    options.onOutput?.(output);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.stdin!.end();
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([
      waitForHttp(`${baseUrl}/readyz`, 45_000),
      exit.then((code) => {
        throw new Error(`instance ${name} exited with ${code} before it was ready`);
      }),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- ${name} output ---\n${output}`);
  }
  return {
    name,
    port,
    baseUrl,
    client: new TestClient(baseUrl),
    child,
    output: () => output,
    alive: () => !exited,
    async stop() {
      if (exited) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface ClusterOptions {
  /** Number of instances (default 2). */
  size?: number;
  /** Extra environment for every instance (e.g. `LATCHKEY_REFRESH_GRACE`). */
  env?: Record<string, string>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const schema = await createTestSchema();
  const env: Record<string, string> = {
    LATCHKEY_DATABASE_URL: schema.url,
    LATCHKEY_SECRET: randomBytes(32).toString('base64url'),
    LATCHKEY_REDIS_URL: TEST_REDIS_URL,
    LATCHKEY_COOKIE_SECURE: 'false',
    LATCHKEY_LOG_LEVEL: 'warn',
    LATCHKEY_DB_POOL_SIZE: '5',
    // One public URL for the whole cluster, as behind a load balancer: unset, each instance's
    // issuer would name its own port (docs/http-api.md#issuer-and-origins-without-configuration).
    LATCHKEY_ISSUER: 'http://localhost:3000',
    ...options.env,
  };
  const names = Array.from({ length: options.size ?? 2 }, (_, i) => String.fromCharCode(65 + i));
  const started = await Promise.allSettled(names.map((name) => startInstance(name, env)));
  const instances = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const close = async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await schema.drop();
  };
  if (failed) {
    await close();
    throw failed.reason;
  }
  return { schema, env, instances, cli: (args, stdin) => runCli(args, { env, ...(stdin !== undefined ? { stdin } : {}) }), close };
}

// ── HTTP helpers ───────────────────────────────────────────────────────────

let counter = 0;
export const uniqueEmail = () => `multi${Date.now()}-${process.pid}-${counter++}@example.com`;

const cookieHeader = (token: string) => `${COOKIE}=${token}`;

export function refreshTokenOf(response: TestResponse): string | undefined {
  const value = response.cookies.find((c) => c.name === COOKIE)?.value;
  return value === undefined || value === '' ? undefined : value;
}

/** Registers on `register`, logs in on `login`; returns the ids and tokens. */
export async function signUp(register: TestClient, login: TestClient = register, email = uniqueEmail()) {
  const registered = await register.post('/auth/register', { body: { email, password: PASSWORD } });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${registered.body?.error}`);
  const res = await login.post('/auth/login', { body: { email, password: PASSWORD } });
  const refreshToken = refreshTokenOf(res);
  if (res.status !== 200 || !refreshToken) throw new Error(`login: ${res.status} ${res.body?.error ?? (refreshToken ? '' : 'no refresh cookie')}`);
  return { email, userId: registered.body.user.id as string, accessToken: res.body.accessToken as string, refreshToken };
}

export const refresh = (client: TestClient, token: string) => client.post('/auth/refresh', { cookie: cookieHeader(token) });

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `kid` of a compact JWS. */
export function kidOf(token: string): string {
  return JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')).kid;
}

// ── service probes and the skip-or-fail policy ──────────────────────────────

let redisProbe: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;

/** Whether Redis at {@link TEST_REDIS_URL} answers PING (memoised). */
function probeRedis(timeoutMs = 2_000): Promise<{ ok: true } | { ok: false; reason: string }> {
  redisProbe ??= new Promise((resolve) => {
    const url = new URL(TEST_REDIS_URL);
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, reason: 'timeout' });
    }, timeoutMs);
    let reply = '';
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d;
      if (reply.includes('\r\n')) {
        clearTimeout(timer);
        socket.end();
        // `-NOAUTH` still means a Redis is there; the instances' URL must carry the password.
        resolve(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH') ? { ok: true } : { ok: false, reason: reply.trim() });
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: error.code ?? error.message });
    });
  });
  return redisProbe;
}

/**
 * `describe(name, body)` when PostgreSQL (and Redis, when `redis`) answer; otherwise a failing
 * test under `LATCHKEY_REQUIRE_SERVICES=1`, else `describe.skip` with one notice per process.
 */
export async function describeServices(name: string, needs: { redis?: boolean }, body: () => void): Promise<void> {
  const problems: string[] = [];
  const pg = await probePostgres();
  if (!pg.ok) problems.push(`PostgreSQL unreachable at ${redactUrl(TEST_PG_URL)} (${pg.reason})`);
  if (needs.redis) {
    const redis = await probeRedis();
    if (!redis.ok) problems.push(`Redis unreachable at ${redactUrl(TEST_REDIS_URL)} (${redis.reason})`);
  }
  describeWithServices(needs.redis ? 'PostgreSQL/Redis' : 'PostgreSQL', name, problems, body);
}
