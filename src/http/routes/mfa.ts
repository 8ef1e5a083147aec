/**
 * The second-factor routes of the auth API (docs/mfa.md): the second step of a login, TOTP
 * enrolment, confirmation and removal, the account's factors. Written against the
 * framework-neutral exchange like the other auth routes; the policy is in `auth/mfa.ts`.
 */
import { ApiError } from '../../errors.js';
import type { Latchkey } from '../../latchkey.js';
import type { IssuedTokens, RequestContext } from '../../auth/service.js';
import { jsonAnswer, type HttpAnswer, type HttpRequest } from '../exchange.js';
import { schemas } from './auth-schemas.js';
import type { EmailRouteTools } from './email.js';

export interface MfaRouteTools extends EmailRouteTools {
  checkCsrf(request: HttpRequest): void;
  tokensAnswer(request: HttpRequest, tokens: IssuedTokens): HttpAnswer;
  /** The context of a request that may carry a DPoP proof for `path` (mount path included). */
  proofContext(request: HttpRequest, path: string): RequestContext;
}

export function mfaRoutes(latchkey: Latchkey, tools: MfaRouteTools) {
  const { auth } = latchkey;
  const { route, principalOf, context, requireString, checkCsrf, tokensAnswer, proofContext } = tools;

  return [
    route('POST', '/mfa/verify', schemas.mfaVerify, async (request) => {
      checkCsrf(request);
      const body = request.body as { mfaToken?: unknown; code?: unknown; recoveryCode?: unknown };
      const mfaToken = requireString(body, 'mfaToken');
      let answer: { code: string } | { recoveryCode: string };
      if (typeof body.code === 'string') answer = { code: body.code };
      else if (typeof body.recoveryCode === 'string') answer = { recoveryCode: body.recoveryCode };
      else throw new ApiError('VALIDATION_FAILED', 'Give code or recoveryCode.');
      const tokens = await auth.verifyMfa(mfaToken, answer, proofContext(request, `${request.mountPath}/mfa/verify`));
      return tokensAnswer(request, tokens);
    }),

    route('GET', '/mfa', schemas.mfaFactors, async (request) => jsonAnswer(200, await auth.listFactors(await principalOf(request)))),

    route('POST', '/mfa/totp/enroll', schemas.totpEnroll, async (request) => {
      const principal = await principalOf(request);
      return jsonAnswer(200, await auth.enrollTotp(principal, requireString(request.body, 'currentPassword'), context(request)));
    }),

    route('POST', '/mfa/totp/confirm', schemas.totpConfirm, async (request) => {
      const principal = await principalOf(request);
      const recoveryCodes = await auth.confirmTotp(principal, requireString(request.body, 'code'), context(request));
      return jsonAnswer(200, { recoveryCodes });
    }),

    route('DELETE', '/mfa/totp', schemas.totpRemove, async (request) => {
      await auth.removeTotp(await principalOf(request), context(request));
      return { status: 204, headers: {} };
    }),
  ];
}
