/**
 * `AuthError`: every failure the client reports on purpose, with a stable `code`. Server
 * failures carry the server's code (docs/errors.md) unchanged; the client adds `NETWORK_ERROR` (the
 * server could not be reached) and uses `MISSING_TOKEN` for "not signed in".
 * Messages never contain a token or password.
 */

/** The server's codes (docs/errors.md) a client can meet, plus the client's own `NETWORK_ERROR`. */
export type AuthErrorCode =
  | 'VALIDATION_FAILED'
  | 'EMAIL_TAKEN'
  | 'WEAK_PASSWORD'
  | 'SIGNUP_DISABLED'
  | 'LINK_INVALID'
  | 'EMAIL_NOT_VERIFIED'
  | 'ACCOUNT_DISABLED'
  | 'RATE_LIMITED'
  | 'INVALID_CREDENTIALS'
  | 'NO_REFRESH_TOKEN'
  | 'INVALID_REFRESH_TOKEN'
  | 'REFRESH_TOKEN_REUSED'
  | 'SESSION_EXPIRED'
  | 'INVALID_DPOP_PROOF'
  | 'USE_DPOP_NONCE'
  | 'DPOP_REQUIRED'
  | 'INVALID_MFA_CODE'
  | 'MFA_TOKEN_INVALID'
  | 'MFA_ALREADY_ENROLLED'
  | 'PASSKEY_INVALID'
  | 'REDIRECT_NOT_ALLOWED'
  | 'OAUTH_STATE_MISMATCH'
  | 'OAUTH_FAILED'
  | 'ACCOUNT_EXISTS'
  | 'LAST_SIGN_IN_METHOD'
  | 'CSRF_REJECTED'
  | 'MISSING_TOKEN'
  | 'INVALID_TOKEN'
  | 'TOKEN_EXPIRED'
  | 'SESSION_REVOKED'
  | 'STEP_UP_REQUIRED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'LAST_ADMIN'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'REQUEST_TIMEOUT'
  | 'HEADERS_TOO_LARGE'
  | 'UNAVAILABLE'
  | 'INTERNAL'
  | 'NETWORK_ERROR';

// Fields are `declare`d (set in the constructor, not emitted as class fields): bytes count here.
export class AuthError extends Error {
  declare readonly code: AuthErrorCode;
  /** HTTP status of the answer that caused it; `undefined` for client-side failures. */
  declare readonly status: number | undefined;
  /** Seconds from a 429's `Retry-After`, when given. */
  declare readonly retryAfter: number | undefined;

  constructor(code: AuthErrorCode, message: string, options: { status?: number; retryAfter?: number; cause?: unknown } = {}) {
    // Error reads only `cause` from its options (and only when the key is present).
    super(message, options);
    this.name = 'AuthError';
    this.code = code;
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }
}

/**
 * Refresh failures after which the session is gone for good (the server also cleared the
 * cookie). Anything else — 429, 403 `CSRF_REJECTED`, 5xx, no network — is transient.
 */
const TERMINAL: ReadonlySet<AuthErrorCode> = new Set([
  'NO_REFRESH_TOKEN',
  'INVALID_REFRESH_TOKEN',
  'REFRESH_TOKEN_REUSED',
  'SESSION_EXPIRED',
  'MISSING_TOKEN',
]);

export function isTerminal(error: unknown): error is AuthError {
  return error instanceof AuthError && TERMINAL.has(error.code);
}

export function notSignedIn(): AuthError {
  return new AuthError('MISSING_TOKEN', 'Not signed in.');
}

export function networkError(cause: unknown): AuthError {
  return new AuthError('NETWORK_ERROR', 'Network error.', { cause });
}

const CODE_OF_STATUS: Record<number, AuthErrorCode> = {
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/** The code of an answer without a readable body (a proxy's error page): 502–504 are a gateway's `UNAVAILABLE`. */
function codeForStatus(status: number): AuthErrorCode {
  return CODE_OF_STATUS[status] ?? (status > 501 && status < 505 ? 'UNAVAILABLE' : status > 499 ? 'INTERNAL' : 'VALIDATION_FAILED');
}

/** Reads the `{error, message}` body of a failed answer (without consuming `response`). */
export async function errorFromResponse(response: Response): Promise<AuthError> {
  let code: AuthErrorCode = codeForStatus(response.status);
  let message = `HTTP ${response.status}.`;
  try {
    const body: unknown = await response.clone().json();
    if (body && typeof body === 'object') {
      const { error, message: text } = body as { error?: unknown; message?: unknown };
      if (typeof error === 'string' && /^[A-Z_]{2,64}$/.test(error)) code = error as AuthErrorCode;
      if (typeof text === 'string' && text.length <= 500) message = text;
    }
  } catch {
    // Not JSON (a proxy's error page): the status decides.
  }
  const retry = Number(response.headers.get('retry-after'));
  return new AuthError(code, message, { status: response.status, retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined });
}
