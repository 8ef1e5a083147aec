/**
 * `latchkey/server` — the standalone HTTP server: the auth API under `/auth` (the Fastify
 * plugin of `latchkey/fastify`), the admin API under `/admin`, JWKS, health, metrics, the demo
 * page, the admin page and the decoder.
 * `buildServer` returns a Fastify instance that is not listening yet (tests use `inject()`);
 * `latchkey serve` listens and handles signals.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Latchkey } from '../latchkey.js';
import { fastifyAdminPlugin, fastifyAuthPlugin } from '../adapters/fastify.js';
import { healthRoutes } from './routes/health.js';
import { pageRoutes } from './routes/pages.js';
import { decoderRoutes } from './routes/decoder.js';
import { clientErrorHandler, errorHandler, frameworkErrorHandler, notFoundHandler, SECURITY_HEADERS } from './errors.js';
import { useJsonBodies, BODY_LIMIT } from './body.js';
import { installMetrics } from './metrics.js';
import { installRequestLog, loggerOptions } from './logger.js';
import { installOpenApi } from './openapi.js';
import { trustProxyOption } from './client-address.js';

export interface ServerOptions {
  latchkey: Latchkey;
  /** pino level; `silent` for tests. Default: the configured `LATCHKEY_LOG_LEVEL`. */
  logLevel?: string;
  /** A pino destination stream (tests capture logs through it). */
  logStream?: NodeJS.WritableStream;
  processMetrics?: boolean;
}

/**
 * Slow clients cannot hold a connection (docs/security.md, "Slow clients"): the whole request
 * within `requestTimeout`, its headers within `headersTimeout`, idle keep-alive connections
 * closed after `keepAliveTimeout`. Node checks for expired requests every
 * `connectionsCheckingInterval` (30 s by default: far too coarse for a 1 s timeout).
 */
function connectionTimeouts(config: ServerOptions['latchkey']['config']) {
  const requestTimeout = config.requestTimeout * 1000;
  return {
    requestTimeout,
    keepAliveTimeout: config.keepAliveTimeout * 1000,
    http: { headersTimeout: config.headersTimeout * 1000, connectionsCheckingInterval: Math.min(1000, requestTimeout / 4) },
  };
}

export async function buildServer({ latchkey, logLevel, logStream, processMetrics }: ServerOptions): Promise<FastifyInstance> {
  const { config } = latchkey;
  const logger = { ...loggerOptions(logLevel ?? config.logLevel), ...(logStream ? { stream: logStream } : {}) };
  const app = Fastify({
    logger,
    // Our own single line per request replaces Fastify's two (see logger.ts).
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    ...connectionTimeouts(config),
    return503OnClosing: true,
    // The router's and the HTTP parser's own refusals get the contract's answers too (docs/errors.md).
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    forceCloseConnections: 'idle',
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  useJsonBodies(app);
  installRequestLog(app);
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
  installMetrics(app, latchkey, { processMetrics: processMetrics ?? false });
  await installOpenApi(app, latchkey); // before the routes: it collects their schemas
  await app.register(healthRoutes, { latchkey });
  await app.register(fastifyAuthPlugin(latchkey), { prefix: '/auth' });
  await app.register(fastifyAdminPlugin(latchkey), { prefix: '/admin' });
  await app.register(pageRoutes);
  await app.register(decoderRoutes);
  return app;
}
