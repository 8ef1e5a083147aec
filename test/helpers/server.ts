/**
 * Starts a real Latchkey server on a free port for a test: SQLite in a temp directory by
 * default (or an explicit `databaseUrl`, or `postgres: true` for a fresh PostgreSQL schema
 * dropped on close), a fresh master secret, a controllable clock, rate limits off unless
 * asked for.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLatchkey, type Latchkey, type LatchkeyOptions } from '../../src/latchkey.js';
import { buildServer } from '../../src/http/server.js';
import { loadConfig } from '../../src/config/config.js';
import { testClock, type TestClock } from './clock.js';
import { TestClient } from './http-client.js';
import { createTestSchema, type TestSchema } from './postgres.js';

export interface TestServer {
  app: FastifyInstance;
  latchkey: Latchkey;
  clock: TestClock;
  client: TestClient;
  baseUrl: string;
  dir: string;
  close(): Promise<void>;
}

export interface TestServerOptions extends LatchkeyOptions {
  logStream?: NodeJS.WritableStream;
  /** Build the HTTP app for the service; the standalone server by default. */
  buildApp?: (latchkey: Latchkey) => Promise<{ listen(): Promise<string>; close(): Promise<void>; app?: FastifyInstance }>;
  /** Run on a fresh PostgreSQL schema (`test/helpers/postgres.ts`), dropped on close. */
  postgres?: boolean;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-test-'));
  const clock = testClock();
  const { logStream, buildApp, postgres, ...overrides } = options;
  const schema: TestSchema | undefined = postgres ? await createTestSchema() : undefined;
  const latchkey = await createLatchkey({
    ...loadConfig({}),
    databaseUrl: schema?.url ?? `sqlite:${join(dir, 'latchkey.db')}`,
    secret: new Uint8Array(randomBytes(32)),
    issuer: 'http://localhost:3000',
    rateLimits: { ...loadConfig({}).rateLimits, enabled: false },
    keyReloadIntervalMs: 0,
    now: clock.now,
    ...overrides,
  });
  let app: FastifyInstance | undefined;
  let server: { listen(): Promise<string>; close(): Promise<void> };
  if (buildApp) {
    const built = await buildApp(latchkey);
    ({ app } = built);
    server = built;
  } else {
    const standalone = await buildServer({ latchkey, logLevel: logStream ? 'info' : 'silent', ...(logStream ? { logStream } : {}) });
    app = standalone;
    server = { listen: () => standalone.listen({ port: 0, host: '127.0.0.1' }), close: () => standalone.close() };
  }
  const baseUrl = await server.listen();
  return {
    // Undefined only for a `buildApp` that serves the API some other way (Express).
    app: app as FastifyInstance,
    latchkey,
    clock,
    baseUrl,
    dir,
    client: new TestClient(baseUrl),
    async close() {
      await server.close();
      await latchkey.close();
      await schema?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
