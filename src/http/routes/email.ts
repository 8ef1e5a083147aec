/**
 * The e-mail routes of the auth API (docs/email.md): forgot/reset, verification, resend,
 * address change, and the two pages the mails link to. Written against the framework-neutral
 * exchange like the other auth routes; the policy is in `auth/email-flows.ts`.
 *
 * The pages change nothing when opened, whatever their query string: they are one static file,
 * and only their button's POST carries the token (link scanners are harmless).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../errors.js';
import type { Latchkey } from '../../latchkey.js';
import type { Principal, RequestContext } from '../../auth/service.js';
import { toPublicUser } from '../../auth/service.js';
import { jsonAnswer, type HttpAnswer, type HttpRequest, type HttpRoute } from '../exchange.js';
import { schemas } from './auth-schemas.js';

export interface EmailRouteTools {
  route(method: HttpRoute['method'], path: string, schema: object, handler: (request: HttpRequest) => Promise<HttpAnswer>): HttpRoute;
  principalOf(request: HttpRequest): Promise<Principal>;
  context(request: HttpRequest): RequestContext;
  requireString(body: unknown, field: string): string;
}

const ACCEPTED = { message: 'If the address has an account, a mail is on its way.' };

/** The built link page (`web/link`), from `dist/http/routes` or, under tsx, `src/http/routes`. */
async function loadLinkPage(): Promise<{ html: string; csp: string } | undefined> {
  for (const base of ['../../web/link', '../../../dist/web/link']) {
    try {
      const [html, csp] = await Promise.all([
        readFile(fileURLToPath(new URL(`${base}.html`, import.meta.url)), 'utf8'),
        readFile(fileURLToPath(new URL(`${base}.csp`, import.meta.url)), 'utf8'),
      ]);
      return { html, csp: csp.trim() };
    } catch {
      // the next location
    }
  }
  return undefined;
}

export function emailRoutes(latchkey: Latchkey, tools: EmailRouteTools): HttpRoute[] {
  const { email } = latchkey;
  const { route, principalOf, context, requireString } = tools;
  let page: Promise<{ html: string; csp: string } | undefined> | undefined;

  const pageAnswer = async (): Promise<HttpAnswer> => {
    page ??= loadLinkPage();
    const built = await page;
    const headers = {
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
    };
    if (!built) {
      page = undefined;
      throw new ApiError('UNAVAILABLE', 'The link page is not built; run npm run build.');
    }
    return {
      status: 200,
      headers: { ...headers, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': built.csp },
      body: built.html,
    };
  };

  return [
    route('POST', '/password/forgot', schemas.forgotPassword, async (request) => {
      await email.forgot(requireString(request.body, 'email'), context(request));
      return jsonAnswer(202, ACCEPTED, { 'cache-control': 'no-store' });
    }),

    route('POST', '/password/reset', schemas.resetPassword, async (request) => {
      await email.reset(requireString(request.body, 'token'), requireString(request.body, 'newPassword'), context(request));
      return jsonAnswer(
        200,
        { message: 'Password changed; every session was signed out. Sign in with the new password.' },
        { 'cache-control': 'no-store' },
      );
    }),

    route('POST', '/email/verify', schemas.verifyEmail, async (request) => {
      const user = await email.verify(requireString(request.body, 'token'), context(request));
      return jsonAnswer(200, { user: toPublicUser(user) }, { 'cache-control': 'no-store' });
    }),

    route('POST', '/email/verify/resend', schemas.resendVerification, async (request) => {
      const principal = await principalOf(request);
      if (!(await latchkey.auth.isSessionLive(principal.sessionId))) throw new ApiError('SESSION_REVOKED');
      await email.resend(principal.id, context(request));
      return jsonAnswer(202, { message: 'If the address is not verified yet, a new link is on its way.' });
    }),

    route('POST', '/email/change', schemas.changeEmail, async (request) => {
      const principal = await principalOf(request);
      if (!(await latchkey.auth.isSessionLive(principal.sessionId))) throw new ApiError('SESSION_REVOKED');
      await email.changeEmail(
        principal.id,
        requireString(request.body, 'newEmail'),
        requireString(request.body, 'currentPassword'),
        context(request),
      );
      return jsonAnswer(202, { message: 'A confirmation link was sent to the new address.' });
    }),

    route('GET', '/reset-password', schemas.linkPage, pageAnswer),
    route('GET', '/verify-email', schemas.linkPage, pageAnswer),
  ];
}
