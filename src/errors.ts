/**
 * The error contract of Latchkey.
 *
 * Every failure a caller can see has a stable, machine-readable `code`. The HTTP
 * status and default message of each code live in one table, {@link ERROR_CODES},
 * which the HTTP edge uses to answer and `docs/errors.md` documents (a test fails
 * when the two disagree). Messages never contain a token, password, secret or key.
 */
import type { JwtErrorCode } from './jwt/errors.js';

export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  EMAIL_TAKEN: { status: 409, message: 'An account with this e-mail already exists.' },
  WEAK_PASSWORD: { status: 422, message: 'The password does not meet the password policy.' },
  SIGNUP_DISABLED: { status: 403, message: 'Sign-up is disabled on this server.' },
  LINK_INVALID: { status: 400, message: 'This link is not valid: it was used, replaced by a newer one, or has expired.' },
  EMAIL_NOT_VERIFIED: { status: 403, message: 'Confirm your e-mail address first: open the link we sent you.' },
  ACCOUNT_DISABLED: { status: 403, message: 'This account is disabled.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; try again later.' },
  INVALID_CREDENTIALS: { status: 401, message: 'Invalid e-mail or password.' },
  NO_REFRESH_TOKEN: { status: 401, message: 'No refresh token was presented.' },
  INVALID_REFRESH_TOKEN: { status: 401, message: 'The refresh token is not valid.' },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    message: 'The refresh token was already used; the session has been revoked.',
  },
  SESSION_EXPIRED: { status: 401, message: 'The session has expired; sign in again.' },
  DPOP_REQUIRED: { status: 400, message: 'This server signs in only with a DPoP proof (a DPoP header).' },
  INVALID_DPOP_PROOF: { status: 401, message: 'A valid DPoP proof by the key of this session is required.' },
  USE_DPOP_NONCE: { status: 401, message: 'The DPoP proof must carry the nonce of the DPoP-Nonce header.' },
  INVALID_MFA_CODE: { status: 401, message: 'The code is not valid (wrong, expired, or already used).' },
  MFA_TOKEN_INVALID: { status: 401, message: 'This sign-in attempt is no longer valid; sign in again with your password.' },
  MFA_ALREADY_ENROLLED: { status: 409, message: 'This account already has an authenticator app; remove it first.' },
  PASSKEY_INVALID: { status: 401, message: 'The passkey could not be verified; try again.' },
  REDIRECT_NOT_ALLOWED: { status: 400, message: 'This redirect target is not allowed: give a path of this site or an allowed URL.' },
  OAUTH_STATE_MISMATCH: { status: 400, message: 'This sign-in did not start here, was already completed, or took too long; start it again.' },
  OAUTH_FAILED: { status: 502, message: 'The identity provider did not confirm the sign-in.' },
  ACCOUNT_EXISTS: {
    status: 409,
    message: 'An account with this e-mail address exists: sign in to it, then link this provider from your account.',
  },
  LAST_SIGN_IN_METHOD: { status: 409, message: 'This is the last way to sign in to the account: set a password or link another first.' },
  CSRF_REJECTED: { status: 403, message: 'Cross-site request rejected.' },
  MISSING_TOKEN: { status: 401, message: 'An access token is required.' },
  INVALID_TOKEN: { status: 401, message: 'The access token is not valid.' },
  TOKEN_EXPIRED: { status: 401, message: 'The access token has expired.' },
  SESSION_REVOKED: { status: 401, message: 'The session of this access token has been revoked.' },
  STEP_UP_REQUIRED: {
    status: 401,
    message: 'This needs a stronger or more recent sign-in (a second factor, or signing in again).',
  },
  FORBIDDEN: { status: 403, message: 'You are not allowed to do this.' },
  NOT_FOUND: { status: 404, message: 'Not found.' },
  LAST_ADMIN: { status: 409, message: 'This is the last enabled admin account: promote another one first.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'The request body must be application/json (utf-8).',
  },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  UNAVAILABLE: { status: 503, message: 'A service this request needs is unavailable.' },
  INTERNAL: { status: 500, message: 'Internal error.' },
} as const satisfies Record<string, { status: number; message: string }>;

/** A code of the HTTP/API error contract (docs/errors.md). */
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Codes of the errors that are not HTTP answers: thrown to an embedder or the CLI, or logged
 * (docs/errors.md, "Codes that are not HTTP answers"). The `JWT_*` codes are {@link JwtErrorCode}.
 */
export const OTHER_ERROR_CODES = [
  'CONFIG_INVALID',
  'KEY_UNSEAL_FAILED',
  'KEY_ROTATION_UNSUPPORTED',
  'KEY_ROTATION_TOO_SOON',
  'STORE_ERROR',
  'CLAIMS_INVALID',
  'JWKS_TIMEOUT',
  'JWKS_NETWORK',
  'JWKS_HTTP_STATUS',
  'JWKS_TOO_LARGE',
  'JWKS_INVALID',
] as const;

/** How a fetch of a remote JWKS failed (`JwksFetchError`). */
export type JwksErrorCode = Extract<(typeof OTHER_ERROR_CODES)[number], `JWKS_${string}`>;

/** Every `code` a {@link LatchkeyError} can carry: the HTTP contract's, the others above and the JWS core's. */
export type LatchkeyErrorCode = ErrorCode | (typeof OTHER_ERROR_CODES)[number] | JwtErrorCode;

/** Base class of every error Latchkey throws on purpose. */
export class LatchkeyError extends Error {
  readonly code: LatchkeyErrorCode;

  constructor(code: LatchkeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LatchkeyError';
    this.code = code;
  }
}

/** An error that maps to an HTTP answer of the contract. */
export class ApiError extends LatchkeyError {
  declare readonly code: ErrorCode;
  readonly status: number;
  /** Extra, non-secret fields that may be shown to the client (e.g. validation details). */
  readonly details: Record<string, unknown> | undefined;
  /** The `WWW-Authenticate` value to send instead of the default one (the DPoP challenges of docs/dpop.md). */
  readonly challenge: string | undefined;
  /** Further headers of the answer (lower-case names), e.g. the `DPoP-Nonce` every answer of the auth API carries when nonces are on. */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    message: string = ERROR_CODES[code].message,
    options?: { cause?: unknown; details?: Record<string, unknown>; challenge?: string; headers?: Record<string, string> },
  ) {
    super(code, message, options);
    this.name = 'ApiError';
    this.status = ERROR_CODES[code].status;
    this.details = options?.details;
    this.challenge = options?.challenge;
    this.headers = { ...options?.headers };
  }
}

/**
 * Which rule a configuration value broke: the same for a `LATCHKEY_*` variable and for the
 * `createLatchkey` option it maps to (docs/errors.md, "Configuration").
 * - `type`: not a value of the right kind (a whole number, true/false, bytes, a list);
 * - `range`: a number outside its bounds;
 * - `length`: a secret shorter than 32 bytes;
 * - `format`: a URL, origin or proxy list that does not parse;
 * - `choice`: not one of the allowed words (algorithm, log level, …);
 * - `required`: missing where another setting needs it (a secret with PostgreSQL or HS256);
 * - `conflict`: inconsistent with another setting (headers timeout over request timeout);
 * - `unusable`: well-formed but unusable at start-up (an unreadable secret file, a bad pool size).
 */
export type ConfigReason = 'type' | 'range' | 'length' | 'format' | 'choice' | 'required' | 'conflict' | 'unusable';

/** Raised at construction or start-up when configuration is unusable. Exit code 2 in the CLI. */
export class ConfigError extends LatchkeyError {
  declare readonly code: 'CONFIG_INVALID';
  /** The configuration variable (`LATCHKEY_SECRET`) or option (`secret`, `rateLimits.loginPerIp`) at fault. */
  readonly variable: string;
  /** The rule it broke. */
  readonly reason: ConfigReason;

  constructor(variable: string, message: string, reason: ConfigReason = 'unusable') {
    super('CONFIG_INVALID', `${variable}: ${message}`);
    this.name = 'ConfigError';
    this.variable = variable;
    this.reason = reason;
  }
}

/** The store could not be reached or failed in a way the caller cannot fix: HTTP 503. */
export class StoreUnavailableError extends LatchkeyError {
  constructor(message = 'The database is unavailable.', options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
    this.name = 'StoreUnavailableError';
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}
