/**
 * The passkey routes of the auth API (docs/mfa.md#passkeys): registration by a signed-in user,
 * sign-in (usernameless, or the second step of a password login), the account's passkeys and
 * their removal. Written against the framework-neutral exchange like the other auth routes; the
 * policy is in `auth/passkeys.ts`.
 */
import type { Latchkey } from '../../latchkey.js';
import { jsonAnswer } from '../exchange.js';
import { schemas } from './auth-schemas.js';
import type { MfaRouteTools } from './mfa.js';

/** An optional string field of a body the schema has checked. */
function optionalString(body: unknown, field: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[field];
  return typeof value === 'string' ? value : undefined;
}

/** The credential of a verify body: `credential.toJSON()` without the fields Latchkey adds beside it. */
function credentialOf(body: unknown, extra: string): unknown {
  const { [extra]: _, ...credential } = body as Record<string, unknown>;
  return credential;
}

export function passkeyRoutes(latchkey: Latchkey, tools: MfaRouteTools) {
  const { auth } = latchkey;
  const { route, principalOf, context, checkCsrf, tokensAnswer, proofContext } = tools;

  return [
    route('POST', '/passkeys/register/options', schemas.passkeyRegisterOptions, async (request) =>
      jsonAnswer(200, await auth.passkeyRegisterOptions(await principalOf(request))),
    ),

    route('POST', '/passkeys/register/verify', schemas.passkeyRegisterVerify, async (request) => {
      const principal = await principalOf(request);
      const passkey = await auth.passkeyRegisterVerify(
        principal,
        credentialOf(request.body, 'name'),
        optionalString(request.body, 'name'),
        context(request),
      );
      return jsonAnswer(201, { passkey });
    }),

    route('POST', '/passkeys/login/options', schemas.passkeyLoginOptions, async (request) =>
      jsonAnswer(200, await auth.passkeyLoginOptions(optionalString(request.body, 'mfaToken'), context(request))),
    ),

    route('POST', '/passkeys/login/verify', schemas.passkeyLoginVerify, async (request) => {
      checkCsrf(request);
      const tokens = await auth.passkeyLoginVerify(
        credentialOf(request.body, 'mfaToken'),
        optionalString(request.body, 'mfaToken'),
        proofContext(request, `${request.mountPath}/passkeys/login/verify`),
      );
      return tokensAnswer(request, tokens);
    }),

    route('GET', '/passkeys', schemas.passkeys, async (request) =>
      jsonAnswer(200, { passkeys: await auth.listPasskeys(await principalOf(request)) }),
    ),

    route('DELETE', '/passkeys/:id', schemas.removePasskey, async (request) => {
      await auth.removePasskey(await principalOf(request), request.params.id!, context(request));
      return { status: 204, headers: {} };
    }),
  ];
}
