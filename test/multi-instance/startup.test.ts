/**
 * `latchkey serve` on PostgreSQL that is not there yet: it retries with backoff and starts
 * once the database answers; a database that never answers within
 * `LATCHKEY_DB_STARTUP_TIMEOUT` is one clear line on stderr and exit code 1, never a stack.
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { expect, it, onTestFinished } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { TEST_PG_URL, withSearchPath, createTestSchema } from '../helpers/postgres.js';
import { freePort } from '../helpers/ports.js';
import { describeServices, startInstance, sleep } from './instances.js';

/** A TCP forwarder to PostgreSQL on `port`, started later (the database "comes up"). */
function forwarder(port: number, target: URL): Promise<Server & { sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(Object.assign(server, { sockets }))));
}

await describeServices('serve while PostgreSQL is unavailable at start-up', {}, () => {
  it('retries until the database answers, then serves', async () => {
    const schema = await createTestSchema();
    onTestFinished(() => schema.drop());
    const port = await freePort();
    const target = new URL(TEST_PG_URL);
    const url = new URL(withSearchPath(TEST_PG_URL, schema.schema));
    url.host = `127.0.0.1:${port}`;
    const env = {
      LATCHKEY_DATABASE_URL: url.toString(),
      LATCHKEY_SECRET: randomBytes(32).toString('base64url'),
      LATCHKEY_DB_STARTUP_TIMEOUT: '60',
      LATCHKEY_LOG_LEVEL: 'warn',
    };
    let proxy: Awaited<ReturnType<typeof forwarder>> | undefined;
    onTestFinished(async () => {
      for (const s of proxy?.sockets ?? []) s.destroy();
      await new Promise((resolve) => (proxy ? proxy.close(resolve) : resolve(undefined)));
    });
    // The database "comes up" once the server has found it down and said it will retry (a
    // fixed delay raced the process's own start-up on a loaded machine).
    let retrying!: () => void;
    const firstRetry = new Promise<void>((resolve) => (retrying = resolve));
    const starting = startInstance('late-db', env, {
      onOutput: (output) => {
        if (output.includes('database unavailable at start-up; retrying')) retrying();
      },
    });
    await Promise.race([firstRetry, starting.then(() => Promise.reject(new Error('ready without a database')))]);
    await sleep(500);
    proxy = await forwarder(port, target);
    const instance = await starting;
    onTestFinished(() => instance.stop().then(() => undefined));
    expect((await fetch(`${instance.baseUrl}/readyz`)).status).toBe(200);
    // The retries were logged as warnings, without the URL or secret.
    expect(instance.output()).toContain('database unavailable at start-up; retrying');
    expect(instance.output()).not.toContain(env.LATCHKEY_SECRET);
  }, 90_000);

  it('gives up after LATCHKEY_DB_STARTUP_TIMEOUT with one line and exit code 1', async () => {
    const started = Date.now();
    const result = await runCli(['serve'], {
      env: {
        PORT: String(await freePort()),
        LATCHKEY_DATABASE_URL: 'postgres://postgres:hunter2-not-logged@127.0.0.1:1/test',
        LATCHKEY_SECRET: randomBytes(32).toString('base64url'),
        LATCHKEY_DB_STARTUP_TIMEOUT: '2',
        LATCHKEY_LOG_LEVEL: 'silent',
      },
    });
    const elapsed = Date.now() - started;
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^latchkey: cannot start: the database \(LATCHKEY_DATABASE_URL\) is unavailable: .*ECONNREFUSED.*Gave up after \d+ attempts/,
    );
    expect(result.stderr).not.toContain('hunter2');
    // 2 s of retries plus process start-up, with a wide margin for a busy machine.
    expect(elapsed).toBeLessThan(20_000);
  }, 60_000);
});
