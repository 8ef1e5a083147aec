/** `latchkey serve [--port N] [--host H]`: run the auth server until SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { createServer, type Server } from 'node:net';
import { loadConfig, servedOrigins, type LatchkeyConfig } from '../../config/config.js';
import { createLatchkey, type Latchkey } from '../../latchkey.js';
import { buildServer } from '../../http/server.js';
import { ConfigError, StoreUnavailableError } from '../../errors.js';
import { pino } from 'pino';
import { loggerOptions } from '../../http/logger.js';
import { EXIT, type Command } from '../io.js';

/** How long in-flight requests may take to finish after a stop signal (docs/http-api.md#shutdown). */
const SHUTDOWN_GRACE_MS = 10_000;
/** How often ended sessions, and audit events past `LATCHKEY_AUDIT_RETENTION`, are deleted from the store. */
const PURGE_INTERVAL_MS = 3_600_000;

export const serve: Command = async (args, io) => {
  let parsed: { values: { port?: string; host?: string } };
  try {
    parsed = parseArgs({ args, options: { port: { type: 'string' }, host: { type: 'string' } }, strict: true });
  } catch (error) {
    io.stderr(`latchkey serve: ${(error as Error).message}\n`);
    return EXIT.USAGE;
  }
  const env = { ...io.env };
  if (parsed.values.port !== undefined) env.PORT = parsed.values.port;
  if (parsed.values.host !== undefined) env.HOST = parsed.values.host;

  let config: LatchkeyConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`latchkey: invalid configuration: ${error.message}\n`);
      return EXIT.USAGE;
    }
    throw error;
  }
  // PORT=0: the OS picks the port. The issuer and allowed origins name the port served, so it is
  // taken now and held while the service starts; the configuration is read again with it.
  let held: Server | undefined;
  if (config.port === 0) {
    held = await holdPort(config.host);
    config = loadConfig({ ...env, PORT: String((held.address() as { port: number }).port) });
  }

  // Start-up and background messages (database retries, key reloads); requests log through Fastify.
  // On a terminal both are human-readable; otherwise one JSON object per line.
  const logStream = process.stdout.isTTY ? await prettyLogStream() : undefined;
  const logger = logStream ? pino(loggerOptions(config.logLevel), logStream) : pino(loggerOptions(config.logLevel));
  let latchkey: Latchkey;
  try {
    latchkey = await createLatchkey({ ...config, logger });
  } catch (error) {
    await release(held);
    if (error instanceof StoreUnavailableError) {
      // One clear line instead of a stack: the usual cause is a database that is down or misnamed.
      io.stderr(`latchkey: cannot start: the database (LATCHKEY_DATABASE_URL) is unavailable: ${error.message}\n`);
      return EXIT.FAILURE;
    }
    if (error instanceof ConfigError) {
      io.stderr(`latchkey: invalid configuration: ${error.message}\n`);
      return EXIT.USAGE;
    }
    throw error;
  }
  const app = await buildServer({ latchkey, processMetrics: true, ...(logStream ? { logStream } : {}) });
  if (!config.rateLimits.enabled) app.log.warn('LATCHKEY_RATE_LIMITS=off: every rate limit is disabled');
  if (!config.cookieSecure) app.log.warn('LATCHKEY_COOKIE_SECURE=false: refresh cookies are sent over plain http');
  await app.ready();
  await release(held);
  await app.listen({ port: config.port, host: config.host });
  const demo = `${new URL(config.issuer).origin}/`;
  app.log.info(`Demo page: ${demo}`);
  if ((config.host === '0.0.0.0' || config.host === '::') && config.issuer === servedOrigins(config.host, config.port)?.issuer) {
    app.log.warn(
      'listening on every interface, but the issuer and allowed origins name only this machine (localhost): ' +
        'to be used from elsewhere, set LATCHKEY_ISSUER (and LATCHKEY_ALLOWED_ORIGINS) to the URL browsers use',
    );
  }
  const purgeOne = (what: string, task: () => Promise<number>) =>
    task().then(
      (count) => count > 0 && app.log.info({ count }, `purged ${what}`),
      () => app.log.warn(`could not purge ${what}; will retry`),
    );
  const purge = () => {
    void purgeOne('ended sessions', () => latchkey.purgeEndedSessions());
    void purgeOne('audit events past LATCHKEY_AUDIT_RETENTION', () => latchkey.purgeAuditEvents());
    void purgeOne('webhook deliveries', () => latchkey.purgeWebhookDeliveries());
  };
  purge();
  const purgeTimer = setInterval(purge, PURGE_INTERVAL_MS).unref();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      app.log.info({ signal }, 'shutting down');
      const force = setTimeout(() => {
        app.log.warn('in-flight requests did not finish in time');
        resolve(EXIT.FAILURE);
        // Cut them: otherwise their sockets keep the process alive past the grace.
        app.server.closeAllConnections();
      }, SHUTDOWN_GRACE_MS);
      force.unref();
      clearInterval(purgeTimer);
      try {
        await app.close();
        await latchkey.close();
        clearTimeout(force);
        resolve(EXIT.OK);
      } catch {
        resolve(EXIT.FAILURE);
      }
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
  });
};

/** Listens on `host` at a port the OS picks, until {@link release}: `latchkey serve` then binds that same port. */
function holdPort(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => resolve(server));
  });
}

function release(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

/** pino-pretty, loaded only for a terminal; written synchronously so no line is lost at exit. */
async function prettyLogStream(): Promise<NodeJS.WritableStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({ colorize: true, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}
