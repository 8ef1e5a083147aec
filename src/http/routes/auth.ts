/**
 * The auth API (docs/http-api.md#endpoints), written once against the framework-neutral
 * exchange of `../exchange.ts`. The Fastify plugin (`latchkey/fastify`, also what the standalone
 * server mounts at `/auth`) and the Express router (`latchkey/express`) only carry requests in and
 * answers out; the refresh cookie's `Path` follows the mount path.
 *
 * Handlers only translate: HTTP in, service call, HTTP out. Policy is in `auth/`.
 */
import { ApiError } from '../../errors.js';
import type { Latchkey } from '../../latchkey.js';
import type { IssuedTokens, Principal, RequestContext } from '../../auth/service.js';
import { assertSameSite } from '../csrf.js';
import { dpopChallenge, dpopHeaderOf, extractCredentials } from '../bearer.js';
import { errorAnswer } from '../errors.js';
import { jsonAnswer, type HttpAnswer, type HttpRequest, type HttpRoute } from '../exchange.js';
import { clearedRefreshCookie, readRefreshToken, refreshCookie, usesBodyTransport, type CookieSettings } from '../transport.js';
import { requestValidator } from '../validate.js';
import { schemas } from './auth-schemas.js';
import { emailRoutes } from './email.js';
import { mfaRoutes, type MfaRouteTools } from './mfa.js';
import { passkeyRoutes } from './passkeys.js';
import { oauthRoutes } from './oauth.js';

function context(request: HttpRequest): RequestContext {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : null };
}

/**
 * The `htu` values a proof for `path` may name: the path under the issuer's origin, or under
 * one of `LATCHKEY_ALLOWED_ORIGINS` (a page origin that serves the API, through a proxy or
 * because it is the server itself) — docs/dpop.md#bound-sessions.
 */
function htusOf(issuerOrigin: string, allowedOrigins: readonly string[], path: string): string[] {
  const urls = [`${issuerOrigin}${path}`];
  for (const origin of allowedOrigins) if (origin !== issuerOrigin) urls.push(`${origin}${path}`);
  return urls;
}

/**
 * The context of an endpoint that takes a DPoP proof: the `DPoP` header (several arrive
 * joined by commas, which the verifier refuses as malformed) and the `htu` values it may name.
 */
function proofContext(request: HttpRequest, htus: string[]): RequestContext {
  const header = request.headers.dpop;
  const proof = Array.isArray(header) ? header.join(', ') : header;
  return { ...context(request), dpop: { proof, method: request.method, url: htus } };
}

function requireString(body: unknown, field: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[field];
  if (typeof value !== 'string') throw new ApiError('VALIDATION_FAILED', `Invalid or missing field: ${field}.`);
  return value;
}

const noContent = (): HttpAnswer => ({ status: 204, headers: {} });

/**
 * Every answer of the auth API is about one account (its profile, its sessions with addresses,
 * IPs and user agents, its tokens): no cache may keep it (docs/http-api.md#caching).
 */
function uncached(answer: HttpAnswer): HttpAnswer {
  answer.headers['cache-control'] ??= 'no-store';
  return answer;
}

/**
 * With server nonces on, every answer under the auth routes' mount carries the current nonce in
 * `DPoP-Nonce` — successes, refusals, and the edge's own answers before a route runs (malformed
 * body, wrong media type, unknown path) — so a client always holds the nonce to use next
 * (docs/dpop.md#server-nonces). Each edge sets it on every answer it writes; `undefined` when
 * nonces are off.
 */
export function dpopNonceOf(latchkey: Latchkey): (() => string) | undefined {
  const nonces = latchkey.auth.dpopNonces;
  return nonces ? () => nonces.current() : undefined;
}

/**
 * What every route of the HTTP API is made with: `route` (validation, `no-store`, DPoP nonces),
 * `principalOf` (the bearer or DPoP caller, or the 401), the request context and the token
 * answers. The auth routes and the admin routes (`./admin.ts`) share it.
 */
export function routeKit(latchkey: Latchkey) {
  const { auth, config } = latchkey;
  const cookieOf = (request: HttpRequest): CookieSettings => ({ secure: config.cookieSecure, path: request.mountPath });
  const issuerOrigin = new URL(config.issuer).origin;
  const htus = (path: string) => htusOf(issuerOrigin, config.allowedOrigins, path);

  /** Login/refresh answer: access token in the body, refresh token per transport. */
  function tokensAnswer(request: HttpRequest, tokens: IssuedTokens): HttpAnswer {
    const body: Record<string, unknown> = { accessToken: tokens.accessToken, tokenType: tokens.tokenType, expiresIn: tokens.expiresIn };
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (usesBodyTransport(request.headers)) body.refreshToken = tokens.refreshToken;
    else headers['set-cookie'] = refreshCookie(cookieOf(request), tokens.refreshToken, tokens.refreshExpiresAt, latchkey.now());
    return jsonAnswer(200, body, headers);
  }

  /** `Set-Cookie` clearing the refresh cookie, unless the body transport is in use. */
  function clearCookie(request: HttpRequest): Record<string, string> {
    return usesBodyTransport(request.headers) ? {} : { 'set-cookie': clearedRefreshCookie(cookieOf(request)) };
  }

  /**
   * Resolves the principal of `Authorization: Bearer` or, for a DPoP-bound token,
   * `Authorization: DPoP` with its proof (docs/dpop.md#resource-servers); else throws the 401.
   */
  async function principalOf(request: HttpRequest): Promise<Principal> {
    const credentials = extractCredentials(request.headers);
    if (credentials === undefined) throw new ApiError('MISSING_TOKEN');
    const { scheme, token } = credentials;
    const dpopError = (code: 'INVALID_TOKEN' | 'TOKEN_EXPIRED' | 'INVALID_DPOP_PROOF') =>
      new ApiError(code, undefined, { challenge: dpopChallenge(code) });
    if (token === '') throw scheme === 'DPoP' ? dpopError('INVALID_TOKEN') : new ApiError('INVALID_TOKEN');
    const result = await auth.authenticateFresh(token);
    if (!result.ok) throw scheme === 'DPoP' ? dpopError(result.code) : new ApiError(result.code);
    const cnf = result.principal.claims.cnf;
    const jkt = (cnf as { jkt?: unknown } | null | undefined)?.jkt;
    if (cnf !== undefined && typeof jkt !== 'string') throw new ApiError('INVALID_TOKEN');
    if ((scheme === 'Bearer') !== (jkt === undefined)) throw dpopError('INVALID_TOKEN');
    if (typeof jkt === 'string') {
      const proof = { proof: dpopHeaderOf(request.headers), method: request.method, url: htus(request.path) };
      if (!(await auth.checkAccessProof(proof, token, jkt)).ok) throw dpopError('INVALID_DPOP_PROOF');
    }
    return result.principal;
  }

  function checkCsrf(request: HttpRequest): void {
    if (!usesBodyTransport(request.headers)) assertSameSite(request.headers, config.allowedOrigins);
  }

  function route(method: HttpRoute['method'], path: string, schema: object, handler: (request: HttpRequest) => Promise<HttpAnswer>): HttpRoute {
    const validate = requestValidator(schema);
    return {
      method,
      path,
      schema,
      handle(request) {
        return (async () => {
          validate(request);
          return uncached(await handler(request));
        })();
      },
    };
  }

  return { route, principalOf, context, requireString, checkCsrf, tokensAnswer, clearCookie, cookieOf, htus, proofContext };
}

/** The routes of the auth API for `latchkey`, relative to their mount path. */
export function authRoutes(latchkey: Latchkey): readonly HttpRoute[] {
  const { auth } = latchkey;
  const { route, principalOf, checkCsrf, tokensAnswer, clearCookie, cookieOf, htus } = routeKit(latchkey);

  const factorTools: MfaRouteTools = {
    route,
    principalOf,
    context,
    requireString,
    checkCsrf,
    tokensAnswer,
    proofContext: (request, path) => proofContext(request, htus(path)),
  };

  return [
    route('POST', '/register', schemas.register, async (request) => {
      const user = await auth.register(requireString(request.body, 'email'), requireString(request.body, 'password'), context(request));
      return jsonAnswer(201, { user });
    }),

    route('POST', '/login', schemas.login, async (request) => {
      checkCsrf(request);
      const result = await auth.login(
        requireString(request.body, 'email'),
        requireString(request.body, 'password'),
        proofContext(request, htus(`${request.mountPath}/login`)),
      );
      // A second factor is due: no session yet, no cookie (docs/mfa.md#login-with-a-second-factor).
      if ('mfaRequired' in result) return jsonAnswer(200, result, { 'cache-control': 'no-store' });
      return tokensAnswer(request, result);
    }),

    route('POST', '/refresh', schemas.refresh, async (request) => {
      checkCsrf(request);
      const presented = readRefreshToken(request.headers, request.body, cookieOf(request));
      if (presented === undefined) throw new ApiError('NO_REFRESH_TOKEN');
      const result = await auth.refresh(presented, proofContext(request, htus(`${request.mountPath}/refresh`)));
      if (!result.ok) {
        const answer = errorAnswer(new ApiError(result.code));
        // A refused proof says nothing against the token: the cookie stays (its owner's client may retry with a good proof).
        if (result.code !== 'INVALID_DPOP_PROOF') Object.assign(answer.headers, clearCookie(request));
        return answer;
      }
      return tokensAnswer(request, result.tokens);
    }),

    route('POST', '/logout', schemas.logout, async (request) => {
      checkCsrf(request);
      const result = await auth.logout(
        readRefreshToken(request.headers, request.body, cookieOf(request)),
        proofContext(request, htus(`${request.mountPath}/logout`)),
      );
      if (!result.ok) return errorAnswer(new ApiError(result.code)); // no cookie cleared: the session lives on
      return jsonAnswer(200, { message: 'Signed out.' }, clearCookie(request));
    }),

    route('POST', '/logout-all', schemas.logoutAll, async (request) => {
      const principal = await principalOf(request);
      const revoked = await auth.logoutAll(principal, context(request));
      return jsonAnswer(200, { message: 'Signed out everywhere.', revokedSessions: revoked }, clearCookie(request));
    }),

    route('GET', '/me', schemas.me, async (request) => jsonAnswer(200, await auth.me(await principalOf(request)))),

    route('GET', '/sessions', schemas.sessions, async (request) =>
      jsonAnswer(200, { sessions: await auth.listSessions(await principalOf(request)) }),
    ),

    route('DELETE', '/sessions/:id', schemas.revokeSession, async (request) => {
      await auth.revokeSession(await principalOf(request), request.params.id!, context(request));
      return noContent();
    }),

    route('POST', '/password', schemas.password, async (request) => {
      const principal = await principalOf(request);
      await auth.changePassword(
        principal,
        requireString(request.body, 'currentPassword'),
        requireString(request.body, 'newPassword'),
        context(request),
      );
      return jsonAnswer(200, { message: 'Password changed; other sessions were signed out.' });
    }),

    ...emailRoutes(latchkey, { route, principalOf, context, requireString }),
    ...mfaRoutes(latchkey, factorTools),
    ...passkeyRoutes(latchkey, factorTools),
    ...oauthRoutes(latchkey, { route, principalOf, context, requireString }),
  ];
}
