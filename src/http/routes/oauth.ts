/**
 * The routes of sign-in with an identity provider (docs/oidc.md): the provider list, the start
 * and the callback of a flow, the account's identities. Written against the framework-neutral
 * exchange like the other auth routes; they carry the request into `latchkey.oauth` (the flow)
 * and `latchkey.auth` (the policy) and the outcome out as a redirect with its cookies.
 */
import type { Latchkey } from '../../latchkey.js';
import { clearedFlowCookie, flowCookie, type FlowCookieSettings } from '../../oauth/flow-cookie.js';
import { jsonAnswer, type HttpAnswer, type HttpRequest } from '../exchange.js';
import { readRefreshToken, refreshCookie, type CookieSettings } from '../transport.js';
import { schemas } from './auth-schemas.js';
import type { EmailRouteTools } from './email.js';

const header = (request: HttpRequest, name: string): string | undefined => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** A 302 to `location` (relative paths resolve on the server's own origin), never cached. */
function redirectAnswer(location: string, cookies: string[]): HttpAnswer {
  return { status: 302, headers: { location, 'set-cookie': cookies, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' } };
}

export function oauthRoutes(latchkey: Latchkey, tools: EmailRouteTools) {
  const { auth, oauth, config } = latchkey;
  const { route, principalOf, context } = tools;
  const refreshCookieOf = (request: HttpRequest): CookieSettings => ({ secure: config.cookieSecure, path: request.mountPath });
  const flowCookieOf = (request: HttpRequest): FlowCookieSettings => ({
    secure: config.cookieSecure,
    path: `${request.mountPath === '/' ? '' : request.mountPath}/oauth`,
  });

  return [
    route('GET', '/providers', schemas.providers, async () => jsonAnswer(200, { providers: oauth.list() })),

    route('GET', '/oauth/:provider/start', schemas.oauthStart, async (request) => {
      const query = new URLSearchParams(request.search ?? '');
      const { location, flow } = await oauth.start(
        request.params.provider!,
        {
          redirect: query.get('redirect') ?? undefined,
          link: query.get('link') === '1',
          refreshToken: readRefreshToken({ cookie: request.headers.cookie }, undefined, refreshCookieOf(request)),
          secFetchSite: header(request, 'sec-fetch-site'),
          mountPath: request.mountPath,
        },
        context(request),
      );
      return redirectAnswer(location, [flowCookie(oauth.sealKey, flowCookieOf(request), flow)]);
    }),

    route('GET', '/oauth/:provider/callback', schemas.oauthCallback, async (request) => {
      const outcome = await oauth.callback(
        request.params.provider!,
        new URLSearchParams(request.search ?? ''),
        header(request, 'cookie'),
        request.mountPath,
        context(request),
      );
      // Single use: the flow cookie goes whatever the outcome.
      const cookies = [clearedFlowCookie(flowCookieOf(request))];
      if (outcome.kind === 'signed_in') {
        const { tokens } = outcome;
        cookies.push(refreshCookie(refreshCookieOf(request), tokens.refreshToken, tokens.refreshExpiresAt, latchkey.now()));
      }
      return redirectAnswer(outcome.location, cookies);
    }),

    route('GET', '/identities', schemas.identities, async (request) =>
      jsonAnswer(200, { identities: await auth.listIdentities(await principalOf(request)) }),
    ),

    route('DELETE', '/identities/:id', schemas.unlinkIdentity, async (request) => {
      await auth.unlinkIdentity(await principalOf(request), request.params.id!, context(request));
      return { status: 204, headers: {} };
    }),
  ];
}
