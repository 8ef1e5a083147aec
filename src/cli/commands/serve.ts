/** `latchkey serve [--port N] [--host H]`: run the auth server until SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { loadConfig, type LatchkeyConfig } from '../../config/config.js';
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

  // Start-up and background messages (database retries, key reloads); requests log through Fastify.
  const logger = pino(loggerOptions(config.logLevel));
  let latchkey: Latchkey;
  try {
    latchkey = await createLatchkey({ ...config, logger });
  } catch (error) {
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
  const app = await buildServer({ latchkey, processMetrics: true });
  if (!config.rateLimits.enabled) app.log.warn('LATCHKEY_RATE_LIMITS=off: every rate limit is disabled');
  if (!config.cookieSecure) app.log.warn('LATCHKEY_COOKIE_SECURE=false: refresh cookies are sent over plain http');
  await app.listen({ port: config.port, host: config.host });
  const purgeOne = (what: string, task: () => Promise<number>) =>
    task().then(
      (count) => count > 0 && app.log.info({ count }, `purged ${what}`),
      () => app.log.warn(`could not purge ${what}; will retry`),
    );
  const purge = () => {
    void purgeOne('ended sessions', () => latchkey.purgeEndedSessions());
    void purgeOne('audit events past LATCHKEY_AUDIT_RETENTION', () => latchkey.purgeAuditEvents());
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
