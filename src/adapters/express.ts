/**
 * `latchkey/express` — Latchkey inside an existing Express (4 or 5) app:
 *
 * ```ts
 * app.use('/auth', expressRouter(latchkey));                      // the auth routes
 * app.get('/.well-known/jwks.json', jwksHandler(latchkey));       // for resource servers
 * app.get('/.well-known/openid-configuration', discoveryHandler(latchkey)); // they find the JWKS from the issuer
 * app.use(express.json());                                        // your parsers after the router
 * app.get('/api/profile', requireAuth({ latchkey }), (req, res) => res.json(req.user));
 * app.delete('/api/users/:id', requireAuth({ latchkey }), requireRole('admin'), …);
 * ```
 *
 * The router (express-router.ts) serves the same route handlers as the standalone server;
 * this entry loads no Fastify.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from '../errors.js';
import type { Latchkey } from '../latchkey.js';
import { errorAnswer } from '../http/errors.js';
import { writeAnswer } from '../http/exchange.js';
import { jwksAnswer } from '../http/routes/jwks.js';
import { discoveryAnswer, type DiscoveryOptions } from '../http/routes/discovery.js';
import { createAuthenticator, requestHtu, type AuthOutcome, type AuthUser, type RequireAuthOptions } from './authenticate.js';
import { hasRole } from './roles.js';

export type { AuthUser, RequireAuthOptions, LocalAuthOptions, RemoteAuthOptions } from './authenticate.js';
export { expressAdminRouter, expressRouter } from './express-router.js';
export type { ExpressAuthRouter, ExpressRouterOptions } from './express-router.js';
export { createRemoteJwks } from '../jwks/index.js';
export type { RemoteJwks, RemoteJwksOptions } from '../jwks/index.js';

declare global {
  namespace Express {
    /** The caller set by `requireAuth` (same declaration shape as passport's, so both can coexist). */
    interface User extends AuthUser {}
    interface Request {
      user?: User;
    }
  }
}

function reject(res: Response, error: ApiError): void {
  writeAnswer(res, errorAnswer(error));
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
  const { dpopNonce } = authenticate;
  return function latchkeyRequireAuth(req, res, next) {
    // Every answer of the route carries the current nonce, refusals included (docs/dpop.md#server-nonces).
    if (dpopNonce) res.setHeader('dpop-nonce', dpopNonce());
    const outcome = authenticate(req.headers, {
      method: req.method,
      htu: () => requestHtu(options.origin, req.protocol, req.get('host'), req.originalUrl),
    });
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

/** `GET /.well-known/jwks.json` for a host app (`src/http/routes/jwks.ts`). */
export function jwksHandler(latchkey: Latchkey): RequestHandler {
  return function latchkeyJwks(req, res) {
    writeAnswer(res, jwksAnswer(latchkey, req.headers));
  };
}

/**
 * `GET /.well-known/openid-configuration` (and `/.well-known/oauth-authorization-server`) for a
 * host app (`src/http/routes/discovery.ts`): mount it at the root of the issuer's origin, beside
 * {@link jwksHandler}; `jwksUri` when the JWKS is not at `${issuer}/.well-known/jwks.json`.
 */
export function discoveryHandler(latchkey: Latchkey, options: DiscoveryOptions = {}): RequestHandler {
  return function latchkeyDiscovery(req, res) {
    writeAnswer(res, discoveryAnswer(latchkey, req.headers, options));
  };
}
