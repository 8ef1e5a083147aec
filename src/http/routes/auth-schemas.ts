/**
 * JSON schemas of the auth routes: request validation, response serialisation (a field
 * not listed here can never leak into a response) and the OpenAPI document, whose error
 * answers list, per status, the codes of docs/http-api.md#endpoints (a test compares them).
 */
import type { ErrorCode } from '../../errors.js';

const errorBody = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' } },
} as const;

/** An error answer with one of `codes` (docs/errors.md), and the headers it carries. */
export function failure(
  description: string,
  codes: readonly ErrorCode[],
  headers?: Record<string, { type: 'string' | 'integer'; description: string }>,
) {
  return {
    description,
    ...(headers ? { headers } : {}),
    type: 'object',
    required: ['error', 'message'],
    properties: { error: { type: 'string', enum: codes }, message: { type: 'string' } },
  } as const;
}

const BEARER_FAILURES = ['MISSING_TOKEN', 'INVALID_TOKEN', 'TOKEN_EXPIRED', 'INVALID_DPOP_PROOF', 'USE_DPOP_NONCE'] as const;
export const SESSION_FAILURES = [...BEARER_FAILURES, 'SESSION_REVOKED'] as const;

/** What every route can answer: the fallbacks, and the server's side. */
export const always = {
  '4xx': errorBody,
  '5xx': failure('`UNAVAILABLE` (a store this request needs is unreachable) or `INTERNAL`', ['UNAVAILABLE', 'INTERNAL']),
} as const;

/** What every route with a JSON body can answer (docs/http-api.md#request-bodies). */
export const withBody = {
  ...always,
  400: failure('malformed, non-UTF-8 or non-object JSON; a missing or mistyped field', ['VALIDATION_FAILED']),
  413: failure('body over 16,384 bytes', ['PAYLOAD_TOO_LARGE']),
  415: failure('content type other than application/json, or a charset other than utf-8', ['UNSUPPORTED_MEDIA_TYPE']),
} as const;

const csrf = failure('cross-site browser request in cookie mode', ['CSRF_REJECTED']);
const rateLimited = failure('over a rate limit', ['RATE_LIMITED'], {
  'retry-after': { type: 'integer', description: 'whole seconds until the window ends' },
});
export const challenge = {
  'www-authenticate': {
    type: 'string',
    description:
      'Bearer realm="latchkey" for MISSING_TOKEN; otherwise also error="invalid_token" and error_description (RFC 6750); for a DPoP-bound token (Authorization: DPoP with a DPoP proof header, docs/dpop.md) the DPoP challenge first: DPoP error="invalid_token", "invalid_dpop_proof" or (USE_DPOP_NONCE) "use_dpop_nonce", algs="…"',
  },
  'dpop-nonce': {
    type: 'string',
    description: 'with LATCHKEY_DPOP_NONCE=true, on every answer: the nonce DPoP proofs must carry (docs/dpop.md#server-nonces)',
  },
} as const;
/** The DPoP headers of a 401 at the endpoints that take a proof (login, refresh, logout). */
const nonceChallenge = {
  'www-authenticate': { type: 'string', description: 'for USE_DPOP_NONCE: DPoP error="use_dpop_nonce", algs="…", Bearer realm="latchkey"' },
  'dpop-nonce': challenge['dpop-nonce'],
} as const;
const bearerFailure = (description: string, codes: readonly ErrorCode[]) => failure(description, codes, challenge);
const SET_COOKIE = 'the refresh cookie (docs/http-api.md#the-refresh-cookie); not with X-Latchkey-Transport: body';

const credentials = {
  type: 'object',
  required: ['email', 'password'],
  properties: {
    email: { type: 'string', maxLength: 254 },
    // Length policy is enforced by the service (422 / 401), not the schema (400).
    password: { type: 'string' },
  },
} as const;

const tokenResponse = {
  headers: {
    'set-cookie': { type: 'string', description: SET_COOKIE },
    'cache-control': { type: 'string', description: 'no-store' },
  },
  type: 'object',
  required: ['accessToken', 'tokenType', 'expiresIn'],
  properties: {
    accessToken: { type: 'string' },
    tokenType: { type: 'string', enum: ['Bearer', 'DPoP'], description: 'DPoP for a session bound to a DPoP key (docs/dpop.md)' },
    expiresIn: { type: 'integer', description: 'seconds until the access token expires' },
    refreshToken: { type: 'string', description: 'only with X-Latchkey-Transport: body' },
  },
} as const;

/** The login answer: the tokens, or (an account with a second factor) the second step to take. */
const loginResponse = {
  ...tokenResponse,
  description: 'the tokens; or, when the account has a second factor, {mfaRequired: true, mfaToken, factors} and no cookie (docs/mfa.md)',
  required: [],
  properties: {
    ...tokenResponse.properties,
    mfaRequired: { type: 'boolean', enum: [true] },
    mfaToken: { type: 'string', description: 'opaque, single use, 5 minutes: for POST /auth/mfa/verify' },
    factors: { type: 'array', items: { type: 'string', enum: ['totp', 'webauthn'] } },
  },
} as const;

export const stepUpChallenge = {
  'www-authenticate': {
    type: 'string',
    description:
      'for STEP_UP_REQUIRED (RFC 9470): Bearer error="insufficient_user_authentication", acr_values="aal2" (DPoP … for a DPoP-bound token); otherwise as for every bearer failure',
  },
} as const;

const publicUser = {
  type: 'object',
  required: ['id', 'email', 'role', 'emailVerified'],
  properties: { id: { type: 'string' }, email: { type: 'string' }, role: { type: 'string' }, emailVerified: { type: 'boolean' } },
} as const;

const message = { type: 'object', properties: { message: { type: 'string' } } } as const;

export const bearer = [{ bearerAuth: [] }];

/** WebAuthn options as the browser's `PublicKeyCredential.parse…OptionsFromJSON` takes them, passed through whole. */
const passkeyOptions = (description: string) =>
  ({ description, type: 'object', required: ['challenge'], additionalProperties: true, properties: { challenge: { type: 'string' } } }) as const;

/** A `PublicKeyCredential.toJSON()` (WebAuthn Level 3), checked in depth by the ceremony. */
const credentialBody = (extra: Record<string, object>) =>
  ({
    type: 'object',
    required: ['id', 'rawId', 'type', 'response'],
    properties: {
      id: { type: 'string', maxLength: 1400 },
      rawId: { type: 'string', maxLength: 1400 },
      type: { type: 'string', enum: ['public-key'] },
      response: { type: 'object', required: ['clientDataJSON'], properties: { clientDataJSON: { type: 'string' } } },
      clientExtensionResults: { type: 'object' },
      authenticatorAttachment: { type: 'string' },
      ...extra,
    },
  }) as const;

const passkeyView = {
  type: 'object',
  required: ['id', 'name', 'createdAt', 'lastUsedAt'],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

export const schemas = {
  register: {
    summary: 'Create an account',
    body: credentials,
    response: {
      ...withBody,
      201: { type: 'object', required: ['user'], properties: { user: publicUser } },
      403: failure('sign-up is disabled (LATCHKEY_ALLOW_SIGNUP=false)', ['SIGNUP_DISABLED']),
      409: failure('an account with this address exists', ['EMAIL_TAKEN']),
      422: failure('the password breaks the password rules', ['WEAK_PASSWORD']),
      429: rateLimited,
    },
  },
  login: {
    summary: 'Sign in; sets the refresh cookie',
    body: credentials,
    response: {
      ...withBody,
      200: loginResponse,
      400: failure(
        'malformed, non-UTF-8 or non-object JSON; a missing or mistyped field; DPOP_REQUIRED: no DPoP proof while LATCHKEY_DPOP=required',
        ['VALIDATION_FAILED', 'DPOP_REQUIRED'],
      ),
      401: failure(
        'unknown address or wrong password (one answer for both), or an invalid DPoP proof header; USE_DPOP_NONCE: the proof lacks the current server nonce',
        ['INVALID_CREDENTIALS', 'INVALID_DPOP_PROOF', 'USE_DPOP_NONCE'],
        nonceChallenge,
      ),
      403: failure(
        'cross-site browser request in cookie mode; after a correct password: a disabled account (ACCOUNT_DISABLED), or (LATCHKEY_REQUIRE_EMAIL_VERIFICATION=true) an unverified address',
        ['CSRF_REJECTED', 'ACCOUNT_DISABLED', 'EMAIL_NOT_VERIFIED'],
      ),
      429: rateLimited,
    },
  },
  refresh: {
    summary: 'Rotate the refresh token and get a new access token',
    // No body schema: cookie-mode requests have no body. With X-Latchkey-Transport: body the
    // service reads `refreshToken` and treats anything else as an invalid token.
    response: {
      ...withBody,
      200: tokenResponse,
      401: failure(
        'the refresh token is missing, not valid, reused (the session is now revoked), or its session ended; INVALID_DPOP_PROOF: the DPoP proof is invalid, or missing for a DPoP-bound session (the cookie is kept); USE_DPOP_NONCE: the proof lacks the current server nonce (the cookie is kept)',
        ['NO_REFRESH_TOKEN', 'INVALID_REFRESH_TOKEN', 'REFRESH_TOKEN_REUSED', 'SESSION_EXPIRED', 'INVALID_DPOP_PROOF', 'USE_DPOP_NONCE'],
        {
          'set-cookie': { type: 'string', description: 'the refresh cookie cleared (Max-Age=0); not with X-Latchkey-Transport: body' },
          ...nonceChallenge,
        },
      ),
      403: csrf,
      429: rateLimited,
    },
  },
  logout: {
    summary: 'Revoke the session of the presented refresh token',
    response: {
      ...withBody,
      200: message,
      401: failure(
        'the DPoP proof is invalid, or missing for a DPoP-bound session, or (USE_DPOP_NONCE) lacks the current server nonce: nothing is revoked, no cookie cleared',
        ['INVALID_DPOP_PROOF', 'USE_DPOP_NONCE'],
        nonceChallenge,
      ),
      403: csrf,
    },
  },
  logoutAll: {
    summary: 'Revoke every session of the user',
    security: bearer,
    response: {
      ...withBody,
      200: { type: 'object', properties: { message: { type: 'string' }, revokedSessions: { type: 'integer' } } },
      401: bearerFailure('no, invalid or expired access token, or its session was revoked', SESSION_FAILURES),
    },
  },
  me: {
    summary: 'The signed-in user (stateless: the token is checked, not its session)',
    security: bearer,
    response: { ...always, 200: publicUser, 401: bearerFailure('no, invalid or expired access token', BEARER_FAILURES) },
  },
  sessions: {
    summary: 'Live sessions of the user',
    security: bearer,
    response: {
      200: {
        type: 'object',
        required: ['sessions'],
        properties: {
          sessions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'createdAt', 'lastUsedAt', 'expiresAt', 'userAgent', 'ip', 'current'],
              properties: {
                id: { type: 'string' },
                createdAt: { type: 'string', format: 'date-time' },
                lastUsedAt: { type: 'string', format: 'date-time' },
                expiresAt: { type: 'string', format: 'date-time' },
                userAgent: { type: ['string', 'null'] },
                ip: { type: ['string', 'null'] },
                current: { type: 'boolean' },
              },
            },
          },
        },
      },
      401: bearerFailure('no, invalid or expired access token, or its session was revoked', SESSION_FAILURES),
      ...always,
    },
  },
  revokeSession: {
    summary: "Revoke one of the user's sessions",
    security: bearer,
    params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
    response: {
      ...always,
      204: { type: 'null', description: 'the session is revoked; its refresh tokens answer 401 INVALID_REFRESH_TOKEN' },
      400: failure('an id longer than 64 characters', ['VALIDATION_FAILED']),
      401: bearerFailure('no, invalid or expired access token, or its session was revoked', SESSION_FAILURES),
      404: failure("no such live session of this user (another user's session included)", ['NOT_FOUND']),
    },
  },
  password: {
    summary: 'Change the password; every other session is revoked',
    security: bearer,
    body: {
      type: 'object',
      required: ['currentPassword', 'newPassword'],
      properties: { currentPassword: { type: 'string' }, newPassword: { type: 'string' } },
    },
    response: {
      ...withBody,
      200: message,
      401: bearerFailure('no, invalid or expired access token (with the challenge), its session was revoked, or the current password is wrong', [
        ...SESSION_FAILURES,
        'INVALID_CREDENTIALS',
      ]),
      422: failure('the new password breaks the password rules', ['WEAK_PASSWORD']),
      429: rateLimited,
    },
  },
  forgotPassword: {
    summary: 'Send a reset link to the address, if it has an account (the same answer either way)',
    body: { type: 'object', required: ['email'], properties: { email: { type: 'string' } } },
    response: { ...withBody, 202: message, 429: rateLimited },
  },
  resetPassword: {
    summary: 'Set a new password with the token of a reset link; every session of the account ends',
    body: {
      type: 'object',
      required: ['token', 'newPassword'],
      properties: { token: { type: 'string', maxLength: 256 }, newPassword: { type: 'string' } },
    },
    response: {
      ...withBody,
      200: message,
      400: failure('a missing or mistyped field; a token that is unknown, used, voided or expired', ['VALIDATION_FAILED', 'LINK_INVALID']),
      422: failure('the new password breaks the password rules (the link stays usable)', ['WEAK_PASSWORD']),
      429: rateLimited,
    },
  },
  verifyEmail: {
    summary: 'Confirm an address with the token of a verification or address-change link',
    body: { type: 'object', required: ['token'], properties: { token: { type: 'string', maxLength: 256 } } },
    response: {
      ...withBody,
      200: { type: 'object', required: ['user'], properties: { user: publicUser } },
      400: failure('a missing or mistyped field; a token that is unknown, used, voided or expired', ['VALIDATION_FAILED', 'LINK_INVALID']),
      409: failure('the new address of an address change belongs to another account by now', ['EMAIL_TAKEN']),
      429: rateLimited,
    },
  },
  resendVerification: {
    summary: 'Send a new verification link (older ones stop working); nothing for a verified address',
    security: bearer,
    response: { ...withBody, 202: message, 401: bearerFailure('no, invalid or expired access token, or its session was revoked', SESSION_FAILURES) },
  },
  changeEmail: {
    summary: 'Start an address change: a link to the new address, a notice to the current one',
    security: bearer,
    body: {
      type: 'object',
      required: ['newEmail', 'currentPassword'],
      properties: { newEmail: { type: 'string' }, currentPassword: { type: 'string' } },
    },
    response: {
      ...withBody,
      202: message,
      401: bearerFailure('no, invalid or expired access token (with the challenge), its session was revoked, or the password is wrong', [
        ...SESSION_FAILURES,
        'INVALID_CREDENTIALS',
      ]),
      409: failure('the new address belongs to an account', ['EMAIL_TAKEN']),
      429: rateLimited,
    },
  },
  mfaVerify: {
    summary: 'The second step of a login: a TOTP code or a recovery code for the mfaToken; sets the refresh cookie',
    body: {
      type: 'object',
      required: ['mfaToken'],
      properties: {
        mfaToken: { type: 'string', maxLength: 256 },
        code: { type: 'string', maxLength: 16, description: 'the 6 digits of the authenticator app' },
        recoveryCode: { type: 'string', maxLength: 64, description: 'one of the recovery codes; case and dashes do not matter' },
      },
    },
    response: {
      ...withBody,
      200: tokenResponse,
      401: failure(
        'INVALID_MFA_CODE: a wrong, replayed or used code (counts against the mfaToken); MFA_TOKEN_INVALID: the mfaToken is unknown, used, expired or dead after 5 wrong codes; INVALID_DPOP_PROOF: the login carried a DPoP proof and this request proves no key or another',
        ['INVALID_MFA_CODE', 'MFA_TOKEN_INVALID', 'INVALID_DPOP_PROOF', 'USE_DPOP_NONCE'],
        nonceChallenge,
      ),
      403: csrf,
      429: rateLimited,
    },
  },
  mfaFactors: {
    summary: "The account's second factors (never a secret) and how many recovery codes are left",
    security: bearer,
    response: {
      ...always,
      200: {
        type: 'object',
        required: ['factors', 'recoveryCodesRemaining'],
        properties: {
          factors: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'type', 'createdAt', 'lastUsedAt'],
              properties: {
                id: { type: 'string' },
                type: { type: 'string', enum: ['totp', 'webauthn'] },
                createdAt: { type: 'string', format: 'date-time' },
                lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
              },
            },
          },
          recoveryCodesRemaining: { type: 'integer' },
        },
      },
      401: bearerFailure('no, invalid or expired access token, or its session was revoked', SESSION_FAILURES),
    },
  },
  totpEnroll: {
    summary: 'Start a TOTP enrolment (an authenticator app): the secret, its otpauth:// URL and a QR code; takes effect on confirm',
    security: bearer,
    body: { type: 'object', required: ['currentPassword'], properties: { currentPassword: { type: 'string' } } },
    response: {
      ...withBody,
      200: {
        type: 'object',
        required: ['secret', 'otpauthUrl', 'qrSvg'],
        properties: {
          secret: { type: 'string', description: 'base32, for manual entry' },
          otpauthUrl: { type: 'string' },
          qrSvg: { type: 'string', description: 'the otpauth URL as a QR code (an SVG document)' },
        },
      },
      401: failure(
        'no, invalid or expired access token, or its session was revoked; a wrong current password; STEP_UP_REQUIRED: the account has another factor and the token is aal1',
        [...SESSION_FAILURES, 'INVALID_CREDENTIALS', 'STEP_UP_REQUIRED'],
        { ...challenge, ...stepUpChallenge },
      ),
      409: failure('the account has a confirmed TOTP factor', ['MFA_ALREADY_ENROLLED']),
      429: rateLimited,
    },
  },
  totpConfirm: {
    summary: 'Confirm the pending TOTP enrolment with a current code; returns 10 single-use recovery codes (shown once)',
    security: bearer,
    body: { type: 'object', required: ['code'], properties: { code: { type: 'string', maxLength: 16 } } },
    response: {
      ...withBody,
      200: { type: 'object', required: ['recoveryCodes'], properties: { recoveryCodes: { type: 'array', items: { type: 'string' } } } },
      401: bearerFailure('no, invalid or expired access token, or its session was revoked; INVALID_MFA_CODE: a wrong code', [
        ...SESSION_FAILURES,
        'INVALID_MFA_CODE',
      ]),
      404: failure('no TOTP enrolment is pending', ['NOT_FOUND']),
      409: failure('the TOTP factor is confirmed already', ['MFA_ALREADY_ENROLLED']),
      429: rateLimited,
    },
  },
  totpRemove: {
    summary: 'Remove the TOTP factor and its recovery codes (needs an aal2 token)',
    security: bearer,
    response: {
      ...always,
      204: { type: 'null', description: 'the factor and the recovery codes are deleted' },
      401: failure(
        'no, invalid or expired access token, or its session was revoked; STEP_UP_REQUIRED: the token is aal1',
        [...SESSION_FAILURES, 'STEP_UP_REQUIRED'],
        { ...challenge, ...stepUpChallenge },
      ),
      404: failure('the account has no TOTP factor (checked before the token’s level)', ['NOT_FOUND']),
    },
  },
  passkeyRegisterOptions: {
    summary: 'Options to create a passkey for the signed-in user (needs an aal2 token when the account has a factor); valid 5 minutes, once',
    security: bearer,
    response: {
      ...always,
      200: passkeyOptions(
        'PublicKeyCredentialCreationOptionsJSON (WebAuthn Level 3): a resident key, userVerification "required", a random user.id (never the e-mail), the account\'s credentials in excludeCredentials',
      ),
      401: failure(
        'no, invalid or expired access token, or its session was revoked; STEP_UP_REQUIRED: the account has a factor and the token is aal1',
        [...SESSION_FAILURES, 'STEP_UP_REQUIRED'],
        { ...challenge, ...stepUpChallenge },
      ),
    },
  },
  passkeyRegisterVerify: {
    summary: "Store the passkey of a registration: the body is the browser's credential.toJSON(), plus an optional name",
    security: bearer,
    body: credentialBody({ name: { type: 'string', maxLength: 64, description: "the owner's label (default Passkey)" } }),
    response: {
      ...withBody,
      201: {
        type: 'object',
        required: ['passkey'],
        properties: { passkey: passkeyView },
      },
      401: failure(
        'no, invalid or expired access token, or its session was revoked; STEP_UP_REQUIRED: the account has a factor and the token is aal1; PASSKEY_INVALID: the attestation failed (challenge unknown, used, expired or of another user; origin, RP id, signature, no user verification; a credential registered already)',
        [...SESSION_FAILURES, 'STEP_UP_REQUIRED', 'PASSKEY_INVALID'],
        { ...challenge, ...stepUpChallenge },
      ),
    },
  },
  passkeyLoginOptions: {
    summary:
      'Options to sign in with a passkey: usernameless (no allowCredentials), or with the mfaToken of a password login the credentials of that account',
    body: {
      type: 'object',
      properties: {
        mfaToken: { type: 'string', maxLength: 256, description: 'the second step of this login (docs/mfa.md#login-with-a-second-factor)' },
      },
    },
    response: {
      ...withBody,
      200: passkeyOptions('PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3), userVerification "required"; valid 5 minutes, once'),
      401: failure('MFA_TOKEN_INVALID: the mfaToken is unknown, used, expired or dead', ['MFA_TOKEN_INVALID']),
      404: failure('the account of the mfaToken has no passkey', ['NOT_FOUND']),
      429: rateLimited,
    },
  },
  passkeyLoginVerify: {
    summary:
      "Sign in with a passkey: the body is the browser's credential.toJSON() (plus the mfaToken on the second step of a login); sets the refresh cookie",
    body: credentialBody({ mfaToken: { type: 'string', maxLength: 256 } }),
    response: {
      ...withBody,
      200: tokenResponse,
      401: failure(
        'PASSKEY_INVALID: the assertion failed (unknown or deleted credential, signature, origin, RP id, used or expired challenge, a sign counter that did not move forward); MFA_TOKEN_INVALID: the mfaToken is dead; INVALID_DPOP_PROOF: an invalid proof, or the login carried one and this request proves no key or another',
        ['PASSKEY_INVALID', 'MFA_TOKEN_INVALID', 'INVALID_DPOP_PROOF', 'USE_DPOP_NONCE'],
        nonceChallenge,
      ),
      400: failure('malformed JSON, not a credential; DPOP_REQUIRED: LATCHKEY_DPOP=required and no proof', ['VALIDATION_FAILED', 'DPOP_REQUIRED']),
      403: csrf,
      429: rateLimited,
    },
  },
  passkeys: {
    summary: "The account's passkeys",
    security: bearer,
    response: {
      ...always,
      200: { type: 'object', required: ['passkeys'], properties: { passkeys: { type: 'array', items: passkeyView } } },
      401: bearerFailure('no, invalid or expired access token, or its session was revoked', SESSION_FAILURES),
    },
  },
  removePasskey: {
    summary: 'Remove a passkey (needs an aal2 token)',
    security: bearer,
    params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
    response: {
      ...always,
      204: { type: 'null', description: 'the passkey is deleted; it signs no one in any more' },
      400: failure('an id longer than 64 characters', ['VALIDATION_FAILED']),
      401: failure(
        'no, invalid or expired access token, or its session was revoked; STEP_UP_REQUIRED: the token is aal1',
        [...SESSION_FAILURES, 'STEP_UP_REQUIRED'],
        { ...challenge, ...stepUpChallenge },
      ),
      404: failure("no such passkey of this user (another user's included; checked before the token's level)", ['NOT_FOUND']),
    },
  },
  /** The pages behind mail links: HTML, not part of the API document. */
  linkPage: { hide: true },

  // ── sign-in with an identity provider (docs/oidc.md) ───────────────────
  providers: {
    summary: 'The identity providers this server signs in with (never a secret)',
    response: {
      ...always,
      200: {
        type: 'object',
        required: ['providers'],
        properties: {
          providers: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'name', 'type'],
              properties: { id: { type: 'string' }, name: { type: 'string' }, type: { type: 'string', enum: ['oidc', 'github'] } },
            },
          },
        },
      },
    },
  },
  oauthStart: {
    summary: 'Start a sign-in (or, with link=1, a link) with an identity provider: a redirect to it',
    security: [{}, { refreshCookie: [] }],
    params: { type: 'object', required: ['provider'], properties: { provider: { type: 'string', maxLength: 64 } } },
    querystring: {
      type: 'object',
      properties: {
        redirect: { type: 'string', description: 'a path of this site, or a URL under LATCHKEY_ALLOWED_REDIRECTS; default /' },
        link: { type: 'string', enum: ['1'], description: 'link the provider to the signed-in user (refresh cookie, Sec-Fetch-Site: same-origin)' },
      },
    },
    response: {
      ...always,
      302: {
        type: 'null',
        description:
          'to the provider (PKCE S256, state, nonce); Set-Cookie: the sealed flow cookie (HttpOnly; SameSite=Lax; Path=/auth/oauth; Max-Age=600)',
        headers: {
          location: { type: 'string', description: "the provider's authorization URL" },
          'set-cookie': { type: 'string', description: 'the flow cookie' },
        },
      },
      400: failure('a redirect that is not allowed; DPOP_REQUIRED with LATCHKEY_DPOP=required', ['REDIRECT_NOT_ALLOWED', 'DPOP_REQUIRED']),
      401: failure('link=1 without a live, unbound session of this browser, or not from a page of this site', [
        'NO_REFRESH_TOKEN',
        'INVALID_REFRESH_TOKEN',
      ]),
      404: failure('no such provider', ['NOT_FOUND']),
      429: rateLimited,
      503: failure('the provider’s discovery cannot be fetched in time', ['UNAVAILABLE']),
    },
  },
  oauthCallback: {
    summary: "The provider's redirect back: signs in (or links) and redirects to the flow's target",
    params: { type: 'object', required: ['provider'], properties: { provider: { type: 'string', maxLength: 64 } } },
    response: {
      ...always,
      302: {
        type: 'null',
        description:
          "to the flow's target; signed in: with the refresh cookie; a second factor due: #mfaToken=…&factors=…; linked: #linked=<id>; failed: #error=OAUTH_STATE_MISMATCH, OAUTH_FAILED, ACCOUNT_EXISTS, ACCOUNT_DISABLED, SIGNUP_DISABLED, EMAIL_NOT_VERIFIED or SESSION_REVOKED. The flow cookie is cleared whatever the outcome",
        headers: {
          location: { type: 'string', description: 'the target' },
          'set-cookie': { type: 'string', description: 'the refresh cookie; the cleared flow cookie' },
        },
      },
      429: rateLimited,
    },
  },
  identities: {
    summary: 'The identity providers linked to the account',
    security: bearer,
    response: {
      ...always,
      200: {
        type: 'object',
        required: ['identities'],
        properties: {
          identities: {
            type: 'array',
            items: {
              type: 'object',
              required: ['id', 'provider', 'subject', 'email', 'createdAt'],
              properties: {
                id: { type: 'string' },
                provider: { type: 'string' },
                subject: { type: 'string' },
                email: { type: ['string', 'null'] },
                createdAt: { type: 'string', format: 'date-time' },
              },
            },
          },
        },
      },
      401: bearerFailure('no, invalid or expired access token, or its session was revoked', SESSION_FAILURES),
    },
  },
  unlinkIdentity: {
    summary: 'Unlink an identity provider from the account (never the last way to sign in)',
    security: bearer,
    params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
    response: {
      ...always,
      204: { type: 'null', description: 'unlinked' },
      400: failure('an id longer than 64 characters', ['VALIDATION_FAILED']),
      401: bearerFailure('no, invalid or expired access token, or its session was revoked', SESSION_FAILURES),
      404: failure('no such identity of this user', ['NOT_FOUND']),
      409: failure('the last way to sign in to the account (no password, no other identity, no passkey)', ['LAST_SIGN_IN_METHOD']),
    },
  },
} as const;
