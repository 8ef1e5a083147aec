/**
 * The auth API (docs/http-api.md#endpoints) as one encapsulated Fastify plugin. The
 * standalone server mounts it at `/auth`; an existing Fastify app can mount it at any prefix, and the
 * refresh cookie's `Path` follows the prefix.
 *
 * Handlers only translate: HTTP in, service call, HTTP out. Policy is in `auth/`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import { ApiError } from '../../errors.js';
import type { Latchkey } from '../../latchkey.js';
import type { IssuedTokens, Principal, RequestContext } from '../../auth/service.js';
import { useJsonBodies, BODY_LIMIT } from '../body.js';
import { errorHandler, sendApiError } from '../errors.js';
import { assertSameSite } from '../csrf.js';
import { extractBearerToken } from '../bearer.js';
import { clearRefreshCookie, readRefreshToken, setRefreshCookie, usesBodyTransport, type CookieSettings } from '../transport.js';
import { schemas } from './auth-schemas.js';
import { clientAddress } from '../client-address.js';

export interface AuthRoutesOptions {
  latchkey: Latchkey;
}

function context(request: FastifyRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return { ip: clientAddress(request), userAgent: typeof userAgent === 'string' ? userAgent : null };
}

function requireString(body: unknown, field: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[field];
  if (typeof value !== 'string') throw new ApiError('VALIDATION_FAILED', `Invalid or missing field: ${field}.`);
  return value;
}

export async function authRoutes(app: FastifyInstance, { latchkey }: AuthRoutesOptions): Promise<void> {
  const { auth, config } = latchkey;
  useJsonBodies(app);
  app.setErrorHandler(errorHandler);
  if (!app.hasRequestDecorator('cookies')) await app.register(fastifyCookie);

  const cookie: CookieSettings = { secure: config.cookieSecure, path: app.prefix || '/' };
  const routeOptions = { bodyLimit: BODY_LIMIT };

  /** Sends login/refresh tokens: access token in the body, refresh token per transport. */
  function sendTokens(request: FastifyRequest, reply: FastifyReply, tokens: IssuedTokens): FastifyReply {
    const body: Record<string, unknown> = {
      accessToken: tokens.accessToken,
      tokenType: tokens.tokenType,
      expiresIn: tokens.expiresIn,
    };
    if (usesBodyTransport(request)) body.refreshToken = tokens.refreshToken;
    else setRefreshCookie(reply, cookie, tokens.refreshToken, tokens.refreshExpiresAt, latchkey.now());
    reply.header('cache-control', 'no-store');
    return reply.send(body);
  }

  /** Resolves the bearer principal or answers the RFC 6750 401. */
  async function principalOf(request: FastifyRequest): Promise<Principal> {
    const token = extractBearerToken(request.headers);
    if (token === undefined) throw new ApiError('MISSING_TOKEN');
    const result = await auth.authenticateFresh(token);
    if (!result.ok) throw new ApiError(result.code);
    return result.principal;
  }

  function checkCsrf(request: FastifyRequest): void {
    if (!usesBodyTransport(request)) assertSameSite(request, config.allowedOrigins);
  }

  app.post('/register', { ...routeOptions, schema: schemas.register }, async (request, reply) => {
    const user = await auth.register(requireString(request.body, 'email'), requireString(request.body, 'password'), context(request));
    return reply.code(201).send({ user });
  });

  app.post('/login', { ...routeOptions, schema: schemas.login }, async (request, reply) => {
    checkCsrf(request);
    const tokens = await auth.login(requireString(request.body, 'email'), requireString(request.body, 'password'), context(request));
    return sendTokens(request, reply, tokens);
  });

  app.post('/refresh', { ...routeOptions, schema: schemas.refresh }, async (request, reply) => {
    checkCsrf(request);
    const presented = readRefreshToken(request, cookie);
    if (presented === undefined) throw new ApiError('NO_REFRESH_TOKEN');
    const result = await auth.refresh(presented, context(request));
    if (!result.ok) {
      if (!usesBodyTransport(request)) clearRefreshCookie(reply, cookie);
      return sendApiError(reply, new ApiError(result.code));
    }
    return sendTokens(request, reply, result.tokens);
  });

  app.post('/logout', { ...routeOptions, schema: schemas.logout }, async (request, reply) => {
    checkCsrf(request);
    await auth.logout(readRefreshToken(request, cookie), context(request));
    if (!usesBodyTransport(request)) clearRefreshCookie(reply, cookie);
    return reply.send({ message: 'Signed out.' });
  });

  app.post('/logout-all', { ...routeOptions, schema: schemas.logoutAll }, async (request, reply) => {
    const principal = await principalOf(request);
    const revoked = await auth.logoutAll(principal, context(request));
    if (!usesBodyTransport(request)) clearRefreshCookie(reply, cookie);
    return reply.send({ message: 'Signed out everywhere.', revokedSessions: revoked });
  });

  app.get('/me', { schema: schemas.me }, async (request) => auth.me(await principalOf(request)));

  app.get('/sessions', { schema: schemas.sessions }, async (request) => ({ sessions: await auth.listSessions(await principalOf(request)) }));

  app.delete<{ Params: { id: string } }>('/sessions/:id', { schema: schemas.revokeSession }, async (request, reply) => {
    await auth.revokeSession(await principalOf(request), request.params.id, context(request));
    return reply.code(204).send();
  });

  app.post('/password', { ...routeOptions, schema: schemas.password }, async (request, reply) => {
    const principal = await principalOf(request);
    await auth.changePassword(
      principal,
      requireString(request.body, 'currentPassword'),
      requireString(request.body, 'newPassword'),
      context(request),
    );
    return reply.send({ message: 'Password changed; other sessions were signed out.' });
  });
}
