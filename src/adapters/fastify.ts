/**
 * `latchkey/fastify` — Latchkey inside an existing Fastify app:
 *
 * ```ts
 * await app.register(fastifyAuthPlugin(latchkey), { prefix: '/auth' });  // the auth routes
 * await app.register(fastifyAdminPlugin(latchkey), { prefix: '/admin' }); // the admin API (optional)
 * app.get('/.well-known/jwks.json', jwksHandler(latchkey));               // for resource servers
 * app.get('/.well-known/openid-configuration', discoveryHandler(latchkey)); // they find the JWKS from the issuer
 * await app.register(latchkeyUser);                                       // decorates request.user
 * app.get('/api/profile', { preHandler: requireAuth({ latchkey }) }, (req) => req.user);
 * app.delete('/api/users/:id', { preHandler: [requireAuth({ latchkey }), requireRole('admin')] }, …);
 * ```
 * The plugin is the very plugin the standalone server mounts, so behaviour is identical.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerHookHandler, RouteHandlerMethod } from 'fastify';
import { ApiError } from '../errors.js';
import type { Latchkey } from '../latchkey.js';
import { authRoutes, dpopNonceOf } from '../http/routes/auth.js';
import { adminRoutes } from '../http/routes/admin.js';
import type { HttpRoute } from '../http/exchange.js';
import { jwksAnswer } from '../http/routes/jwks.js';
import { discoveryAnswer, type DiscoveryOptions } from '../http/routes/discovery.js';
import { BODY_LIMIT, useJsonBodies } from '../http/body.js';
import { clientAddress } from '../http/client-address.js';
import { errorAnswer, errorHandler, notFoundHandler, sendAnswer } from '../http/errors.js';
import { createAuthenticator, requestHtu, type AuthOutcome, type AuthUser, type RequireAuthOptions } from './authenticate.js';
import { hasRole } from './roles.js';

export type { AuthUser, RequireAuthOptions, LocalAuthOptions, RemoteAuthOptions } from './authenticate.js';
export { createRemoteJwks } from '../jwks/index.js';
export type { RemoteJwks, RemoteJwksOptions } from '../jwks/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by {@link requireAuth}; `undefined` on routes without it. */
    user?: AuthUser;
  }
}

function reject(reply: FastifyReply, error: ApiError): void {
  void sendAnswer(reply, errorAnswer(error));
}

function settle(request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void, outcome: AuthOutcome): void {
  if (outcome.ok) {
    request.user = outcome.user;
    done();
  } else {
    reject(reply, outcome.error);
  }
}

/**
 * A `preHandler` that authenticates the bearer token and sets `request.user`, or answers the
 * contract's 401 (`MISSING_TOKEN`, `INVALID_TOKEN`, `TOKEN_EXPIRED`, `SESSION_REVOKED`) or
 * 503 `UNAVAILABLE`. Options are checked here, once; misconfiguration throws.
 */
export function requireAuth(options: RequireAuthOptions): preHandlerHookHandler {
  const authenticate = createAuthenticator(options);
  const { dpopNonce } = authenticate;
  return function latchkeyRequireAuth(request, reply, done) {
    // Every answer of the route carries the current nonce, refusals included (docs/dpop.md#server-nonces).
    if (dpopNonce) reply.header('dpop-nonce', dpopNonce());
    const outcome = authenticate(request.headers, {
      method: request.method,
      htu: () => requestHtu(options.origin, request.protocol, request.host, request.url),
    });
    if (outcome instanceof Promise) {
      outcome.then(
        (result) => settle(request, reply, done, result),
        () => reject(reply, new ApiError('INTERNAL')),
      );
    } else {
      settle(request, reply, done, outcome);
    }
  };
}

/**
 * A `preHandler` placed after {@link requireAuth}: 403 `FORBIDDEN` unless `request.user.role`
 * is one of `roles`.
 */
export function requireRole(...roles: [string, ...string[]]): preHandlerHookHandler {
  const allowed = new Set(roles);
  if (allowed.size === 0) throw new TypeError('requireRole: at least one role is required');
  return function latchkeyRequireRole(request, reply, done) {
    if (!request.user) return reject(reply, new ApiError('MISSING_TOKEN'));
    if (!hasRole(request.user, allowed)) return reject(reply, new ApiError('FORBIDDEN'));
    done();
  };
}

/**
 * Decorates `request.user` (keeps request objects one shape, as Fastify recommends). Not
 * encapsulated: register it once on the app.
 */
export const latchkeyUser: FastifyPluginAsync = Object.assign(
  async function latchkeyUser(app: FastifyInstance) {
    if (!app.hasRequestDecorator('user')) app.decorateRequest('user', undefined);
  },
  { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'latchkey-user' },
);

/**
 * The auth routes (docs/http-api.md#endpoints) as an encapsulated plugin, bound to `latchkey`:
 * `app.register(fastifyAuthPlugin(latchkey), { prefix: '/auth' })`.
 * Inside it: the strict JSON bodies, the error shape, 404 `NOT_FOUND` for unknown paths under
 * the prefix, and the refresh cookie's `Path` = prefix. Nothing leaks to the host app, and the
 * host's settings (type coercion, parsers, serializers) do not leak in: the routes
 * (`src/http/routes/auth.ts`) validate and serialise themselves, as under Express.
 */
export function fastifyAuthPlugin(latchkey: Latchkey): FastifyPluginAsync {
  return routesPlugin(latchkey, authRoutes(latchkey));
}

/**
 * The admin API (docs/admin.md#http-api) as an encapsulated plugin, the same way:
 * `app.register(fastifyAdminPlugin(latchkey), { prefix: '/admin' })`. Its routes answer only
 * admins (role `admin` in the store, a live session, aal2 when the admin has a second factor).
 */
export function fastifyAdminPlugin(latchkey: Latchkey): FastifyPluginAsync {
  return routesPlugin(latchkey, adminRoutes(latchkey));
}

function routesPlugin(latchkey: Latchkey, routes: readonly HttpRoute[]): FastifyPluginAsync {
  return async function latchkeyRoutes(app) {
    useJsonBodies(app);
    app.setErrorHandler(errorHandler);
    if (app.prefix) app.setNotFoundHandler(notFoundHandler);
    const nonce = dpopNonceOf(latchkey);
    if (nonce)
      app.addHook('onSend', async (_request, reply, payload) => {
        reply.header('dpop-nonce', nonce());
        return payload;
      });
    // The schemas are registered for the OpenAPI document; validation and serialisation are the routes' own.
    app.setValidatorCompiler(() => () => true);
    app.setSerializerCompiler(() => (data) => JSON.stringify(data));
    const mountPath = app.prefix || '/';
    for (const route of routes) {
      app.route({
        method: route.method,
        url: route.path,
        schema: route.schema,
        bodyLimit: BODY_LIMIT,
        handler: async (request, reply) =>
          sendAnswer(
            reply,
            await route.handle({
              method: request.method,
              headers: request.headers,
              ip: clientAddress(request),
              body: request.body,
              params: request.params as Record<string, string>,
              mountPath,
              path: request.url.split('?', 1)[0]!,
              search: request.url.includes('?') ? request.url.slice(request.url.indexOf('?') + 1) : '',
            }),
          ),
      });
    }
  };
}

/** `GET /.well-known/jwks.json` for a host app (`src/http/routes/jwks.ts`). */
export function jwksHandler(latchkey: Latchkey): RouteHandlerMethod {
  return async function latchkeyJwks(request, reply) {
    return sendAnswer(reply, jwksAnswer(latchkey, request.headers));
  };
}

/**
 * `GET /.well-known/openid-configuration` (and `/.well-known/oauth-authorization-server`) for a
 * host app (`src/http/routes/discovery.ts`): mount it at the root of the issuer's origin, beside
 * {@link jwksHandler}; `jwksUri` when the JWKS is not at `${issuer}/.well-known/jwks.json`.
 */
export function discoveryHandler(latchkey: Latchkey, options: DiscoveryOptions = {}): RouteHandlerMethod {
  return async function latchkeyDiscovery(request, reply) {
    return sendAnswer(reply, discoveryAnswer(latchkey, request.headers, options));
  };
}
