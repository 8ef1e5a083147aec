/**
 * `latchkey/express` — Latchkey inside an existing Express (4 or 5) app:
 *
 * ```ts
 * app.use('/auth', latchkey.expressRouter());                    // CONTRACT §3 routes
 * app.get('/.well-known/jwks.json', jwksHandler(latchkey));       // for resource servers
 * app.use(express.json());                                        // your parsers after the router
 * app.get('/api/profile', requireAuth({ latchkey }), (req, res) => res.json(req.user));
 * app.delete('/api/users/:id', requireAuth({ latchkey }), requireRole('admin'), …);
 * ```
 *
 * The router does not re-implement the routes: it hands the request to the very Fastify
 * plugin the standalone server runs (`fastify.routing(req, res)` on a Fastify instance that
 * never listens), so behaviour, validation and error answers are identical by construction.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ApiError, LatchkeyError } from '../errors.js';
import type { Latchkey } from '../latchkey.js';
import { errorHandler, notFoundHandler } from '../http/errors.js';
import { BODY_LIMIT, useJsonBodies } from '../http/body.js';
import { loggerOptions } from '../http/logger.js';
import { createAuthenticator, errorAnswer, type AuthOutcome, type AuthUser, type RequireAuthOptions } from './authenticate.js';
import { fastifyAuthPlugin } from './fastify.js';
import { hasRole } from './roles.js';

export type { AuthUser, RequireAuthOptions, LocalAuthOptions, RemoteAuthOptions } from './authenticate.js';
export { createRemoteJwks } from '../jwks/index.js';
export type { RemoteJwks, RemoteJwksOptions } from '../jwks/index.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    /** The caller set by `requireAuth` (same declaration shape as passport's, so both can coexist). */
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends AuthUser {}
    interface Request {
      user?: User;
    }
  }
}

function reject(res: Response, error: ApiError): void {
  const answer = errorAnswer(error);
  res.status(answer.status).set(answer.headers).send(JSON.stringify(answer.body));
}

/**
 * Middleware that authenticates the bearer token and sets `req.user = {id, role, sessionId,
 * claims}`, or answers the contract's 401 (`MISSING_TOKEN`, `INVALID_TOKEN`, `TOKEN_EXPIRED`,
 * `SESSION_REVOKED`, with an RFC 6750 challenge) or 503 `UNAVAILABLE`. Options are checked
 * here, once; misconfiguration throws.
 */
export function requireAuth(options: RequireAuthOptions): RequestHandler {
  const authenticate = createAuthenticator(options);
  const settle = (req: Request, res: Response, next: NextFunction, outcome: AuthOutcome): void => {
    if (outcome.ok) {
      req.user = outcome.user;
      next();
    } else {
      reject(res, outcome.error);
    }
  };
  return function latchkeyRequireAuth(req, res, next) {
    const outcome = authenticate(req.headers);
    if (outcome instanceof Promise) outcome.then((result) => settle(req, res, next, result), next);
    else settle(req, res, next, outcome);
  };
}

/** Middleware placed after {@link requireAuth}: 403 `FORBIDDEN` unless `req.user.role` is one of `roles`. */
export function requireRole(...roles: [string, ...string[]]): RequestHandler {
  const allowed = new Set(roles);
  if (allowed.size === 0) throw new TypeError('requireRole: at least one role is required');
  return function latchkeyRequireRole(req, res, next) {
    if (!req.user) return reject(res, new ApiError('MISSING_TOKEN'));
    if (!hasRole(req.user, allowed)) return reject(res, new ApiError('FORBIDDEN'));
    next();
  };
}

/** `GET /.well-known/jwks.json` for a host app: the public keys, cacheable for 5 minutes. */
export function jwksHandler(latchkey: Latchkey): RequestHandler {
  return function latchkeyJwks(_req, res) {
    res.set('cache-control', 'public, max-age=300').json(latchkey.keys.jwks());
  };
}

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
export type ExpressAuthRouter = RequestHandler & { close(): Promise<void> };

/** Distinct mount paths served (each needs its own cookie `Path`); a parameterised mount path could grow without bound. */
const MAX_MOUNT_PATHS = 32;

/**
 * The auth routes of CONTRACT §3 as Express middleware: `app.use('/auth', expressRouter(latchkey))`
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

  const router = function latchkeyAuthRouter(req: Request, res: Response, next: NextFunction): void {
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
    trustProxy: config.trustProxy as boolean | string | string[],
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
