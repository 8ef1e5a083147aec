/**
 * The auth routes as Express middleware. The routes themselves are `src/http/routes/auth.ts`,
 * written once against the framework-neutral exchange; this file only matches the path, reads
 * the body with the same rules as the Fastify edge (`readJsonBody`), and writes the answer.
 * No Fastify is loaded.
 *
 * Typed with `node:http` types only, so `latchkey/express` never needs `@types/express`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { ApiError, LatchkeyError } from '../errors.js';
import type { Latchkey } from '../latchkey.js';
import { readJsonBody } from '../http/body.js';
import { nodeClientAddress } from '../http/client-address.js';
import { errorAnswer, failureAnswer, type ErrorLogger } from '../http/errors.js';
import { writeAnswer, type HttpRoute } from '../http/exchange.js';
import { loggerOptions } from '../http/logger.js';
import { adminRoutes } from '../http/routes/admin.js';
import { authRoutes, dpopNonceOf } from '../http/routes/auth.js';

/** What the router reads of an Express request (Express 4 and 5). */
type ExpressRequest = IncomingMessage & { baseUrl: string; url: string };

export interface ExpressRouterOptions {
  /**
   * `true`: requests under the mount path that match no auth route go to the next Express
   * handler. Default `false`: they get the contract's 404 `NOT_FOUND`, as on the standalone server.
   */
  fallthrough?: boolean;
  /** A pino-compatible logger for the router's 5xx logs. Default: pino at the configured `logLevel`. */
  logger?: ErrorLogger;
}

/** The Express middleware of {@link expressRouter}. */
export type ExpressAuthRouter = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** Longest path parameter matched (as the standalone server's router): longer ones are 404. */
const MAX_PARAM_LENGTH = 200;

interface CompiledRoute {
  route: HttpRoute;
  pattern: RegExp;
  names: string[];
}

function compile(route: HttpRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_match, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

type Match = { route: HttpRoute; params: Record<string, string> };

function matcher(routes: readonly HttpRoute[]): (method: string, path: string) => Match | undefined {
  const compiled = routes.map(compile);
  return (method, path) => {
    // HEAD is answered by the GET route (Node sends no body), as Fastify does.
    const wanted = method === 'HEAD' ? 'GET' : method;
    for (const { route, pattern, names } of compiled) {
      if (route.method !== wanted) continue;
      const found = pattern.exec(path);
      if (!found) continue;
      const params: Record<string, string> = {};
      for (let i = 0; i < names.length; i++) {
        let value: string;
        try {
          value = decodeURIComponent(found[i + 1]!);
        } catch {
          return undefined;
        }
        if (value.length > MAX_PARAM_LENGTH) return undefined;
        params[names[i]!] = value;
      }
      return { route, params };
    }
    return undefined;
  };
}

/**
 * The auth routes as Express middleware: `app.use('/auth', expressRouter(latchkey))`.
 * The refresh cookie's `Path` is the mount path.
 *
 * Mount it before any body parser (`express.json()` …): the routes read the raw body
 * themselves (16 KiB limit, strict UTF-8 JSON); a consumed body is reported as a setup error.
 * The client address follows `LATCHKEY_TRUST_PROXY` (Express's `trust proxy` is not consulted).
 */
export function expressRouter(latchkey: Latchkey, options: ExpressRouterOptions = {}): ExpressAuthRouter {
  return routesRouter(latchkey, authRoutes(latchkey), options, 'expressRouter');
}

/**
 * The admin API (docs/admin.md#http-api) as Express middleware, the same way:
 * `app.use('/admin', expressAdminRouter(latchkey))`, before any body parser. Its routes answer
 * only admins (role `admin` in the store, a live session, aal2 when the admin has a second factor).
 */
export function expressAdminRouter(latchkey: Latchkey, options: ExpressRouterOptions = {}): ExpressAuthRouter {
  return routesRouter(latchkey, adminRoutes(latchkey), options, 'expressAdminRouter');
}

function routesRouter(latchkey: Latchkey, routes: readonly HttpRoute[], options: ExpressRouterOptions, name: string): ExpressAuthRouter {
  const match = matcher(routes);
  const ipOf = nodeClientAddress(latchkey.config.trustProxy);
  const nonce = dpopNonceOf(latchkey);
  let log = options.logger;
  const logger = (): ErrorLogger => (log ??= pino(loggerOptions(latchkey.config.logLevel)));

  return function latchkeyAuthRouter(raw, res, next) {
    const req = raw as ExpressRequest;
    if (req.readableEnded) {
      next(
        new LatchkeyError(
          'CONFIG_INVALID',
          `${name}: the request body was already read; mount the Latchkey router before body parsers such as express.json().`,
        ),
      );
      return;
    }
    const found = match(req.method ?? 'GET', req.url.split('?', 1)[0]!);
    if (!found && options.fallthrough) {
      next();
      return;
    }
    if (nonce) res.setHeader('dpop-nonce', nonce());
    if (!found) {
      writeAnswer(res, errorAnswer(new ApiError('NOT_FOUND')));
      return;
    }
    readJsonBody(req)
      .then((body) =>
        found.route.handle({
          method: req.method ?? 'GET',
          headers: req.headers,
          ip: ipOf(req),
          body,
          params: found.params,
          mountPath: req.baseUrl || '/',
          path: `${req.baseUrl ?? ''}${req.url.split('?', 1)[0]}`,
          search: req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
        }),
      )
      .then(
        (answer) => writeAnswer(res, answer),
        (error: unknown) => writeAnswer(res, failureAnswer(error, logger())),
      )
      .catch(next);
  };
}
