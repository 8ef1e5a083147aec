/**
 * The auth routes (docs/http-api.md#endpoints) as Express middleware, without re-implementing them: the
 * request is handed to the very Fastify plugin the standalone server runs
 * (`fastify.routing(req, res)` on a Fastify instance that never listens), so behaviour,
 * validation and error answers are identical by construction.
 *
 * Typed with `node:http` types only, so `latchkey` itself never needs `@types/express`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { LatchkeyError } from '../errors.js';
import type { Latchkey } from '../latchkey.js';
import { errorHandler, notFoundHandler } from '../http/errors.js';
import { BODY_LIMIT, useJsonBodies } from '../http/body.js';
import { loggerOptions } from '../http/logger.js';
import { trustProxyOption } from '../http/client-address.js';
import { fastifyAuthPlugin } from './fastify.js';

/** What the router reads of an Express request (Express 4 and 5). */
type ExpressRequest = IncomingMessage & { baseUrl: string; originalUrl: string };

export interface ExpressRouterOptions {
  /**
   * `true`: requests under the mount path that match no auth route go to the next Express
   * handler. Default `false`: they get the contract's 404 `NOT_FOUND`, as on the standalone server.
   */
  fallthrough?: boolean;
  /** A pino-compatible logger for the router's 5xx logs. Default: pino at the configured `logLevel`. */
  logger?: FastifyBaseLogger;
}

/** The Express middleware of {@link expressRouter}; `close()` releases its internal Fastify instances. */
export type ExpressAuthRouter = ((req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void) & {
  close(): Promise<void>;
};

/** Distinct mount paths served (each needs its own cookie `Path`); a parameterised mount path could grow without bound. */
const MAX_MOUNT_PATHS = 32;

/**
 * The auth routes (docs/http-api.md#endpoints) as Express middleware: `app.use('/auth', expressRouter(latchkey))`
 * (or `latchkey.expressRouter()`). The refresh cookie's `Path` is the mount path.
 *
 * Mount it before any body parser (`express.json()` …): the routes read the raw body
 * themselves (16 KiB limit, strict UTF-8 JSON); a consumed body is reported as a setup error.
 */
export function expressRouter(latchkey: Latchkey, options: ExpressRouterOptions = {}): ExpressAuthRouter {
  const apps = new Map<string, Promise<FastifyInstance>>();

  function appFor(mountPath: string): Promise<FastifyInstance> {
    let app = apps.get(mountPath);
    if (!app) {
      if (apps.size >= MAX_MOUNT_PATHS) {
        return Promise.reject(new LatchkeyError('CONFIG_INVALID', 'expressRouter: mount it at a fixed path (too many distinct mount paths).'));
      }
      app = buildAuthApp(latchkey, mountPath, options.logger);
      apps.set(mountPath, app);
      app.catch(() => apps.delete(mountPath));
    }
    return app;
  }

  const router = function latchkeyAuthRouter(raw: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    const req = raw as ExpressRequest;
    appFor(req.baseUrl).then((app) => {
      if (req.readableEnded) {
        next(new LatchkeyError('CONFIG_INVALID', 'expressRouter: the request body was already read; mount the Latchkey router before body parsers such as express.json().'));
        return;
      }
      const url = req.originalUrl;
      if (options.fallthrough) {
        const path = url.split('?', 1)[0]!;
        if (!app.findRoute({ method: req.method as 'GET', url: path })) {
          next();
          return;
        }
      }
      // The inner app's routes carry the full mount path as prefix: route on the original URL.
      req.url = url;
      app.routing(req, res);
    }, next);
  } as ExpressAuthRouter;

  router.close = async () => {
    const all = [...apps.values()];
    apps.clear();
    await Promise.all(all.map((app) => app.then((instance) => instance.close()).catch(() => undefined)));
  };
  return router;
}

/** A never-listening Fastify instance serving the auth plugin at `prefix`, set up like the standalone server. */
async function buildAuthApp(latchkey: Latchkey, prefix: string, logger: FastifyBaseLogger | undefined): Promise<FastifyInstance> {
  const { config } = latchkey;
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: loggerOptions(config.logLevel) }),
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  useJsonBodies(app);
  await app.register(fastifyAuthPlugin(latchkey), { prefix });
  await app.ready();
  return app;
}
