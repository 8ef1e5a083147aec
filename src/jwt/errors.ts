/**
 * Errors of the JWS core. Every failure has a stable `code`; messages are fixed strings that
 * never contain the token, its claims or any key material.
 */
import { LatchkeyError } from '../errors.js';

/** Stable codes of {@link JwtError}. */
export type JwtErrorCode =
  | 'JWT_MALFORMED'
  | 'JWT_ALG_NOT_ALLOWED'
  | 'JWT_KID_MISSING'
  | 'JWT_KID_UNKNOWN'
  | 'JWT_CRIT_UNSUPPORTED'
  | 'JWT_SIGNATURE_INVALID'
  | 'JWT_TYP_INVALID'
  | 'JWT_EXPIRED'
  | 'JWT_NOT_YET_VALID'
  | 'JWT_IAT_INVALID'
  | 'JWT_CLAIM_INVALID'
  | 'JWT_OPTIONS_INVALID'
  | 'JWT_JWK_INVALID';

/** Default message of every code (what `message` is unless a more precise fixed text is given). */
export const JWT_ERROR_MESSAGES: Readonly<Record<JwtErrorCode, string>> = {
  JWT_MALFORMED: 'The token is not a well-formed compact JWS.',
  JWT_ALG_NOT_ALLOWED: 'The token algorithm is not allowed.',
  JWT_KID_MISSING: 'The token header has no key id.',
  JWT_KID_UNKNOWN: 'The token key id is not known.',
  JWT_CRIT_UNSUPPORTED: 'The token uses a critical header extension that is not supported.',
  JWT_SIGNATURE_INVALID: 'The token signature is not valid.',
  JWT_TYP_INVALID: 'The token type is not accepted.',
  JWT_EXPIRED: 'The token has expired.',
  JWT_NOT_YET_VALID: 'The token is not valid yet.',
  JWT_IAT_INVALID: 'The token issue time is in the future.',
  JWT_CLAIM_INVALID: 'A token claim is not valid.',
  JWT_OPTIONS_INVALID: 'The JWT options are not valid.',
  JWT_JWK_INVALID: 'The JWK is not valid.',
};

/**
 * A token failed a check (`verify`, `check`), or JWT options / a JWK were unusable
 * (`JWT_OPTIONS_INVALID`, `JWT_JWK_INVALID`, thrown at construction).
 *
 * Errors for rejected tokens are created without a stack trace: rejection is an expected
 * outcome on a DoS-exposed path, and capturing a stack costs ~10x the rest of the error.
 */
export class JwtError extends LatchkeyError {
  declare readonly code: JwtErrorCode;
  /** The claim at fault (`exp`, `aud`, ...) for claim failures; `undefined` otherwise. */
  readonly claim: string | undefined;

  constructor(code: JwtErrorCode, message: string = JWT_ERROR_MESSAGES[code], claim?: string) {
    super(code, message);
    this.name = 'JwtError';
    this.claim = claim;
  }
}

/**
 * Creates a {@link JwtError} without capturing a stack trace (for expected token failures).
 * @internal
 */
export function tokenError(code: JwtErrorCode, claim?: string, message?: string): JwtError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new JwtError(code, message ?? JWT_ERROR_MESSAGES[code], claim);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Maps a token failure to its API code (docs/http-api.md#bearer-failures): only an expired token is `TOKEN_EXPIRED`. */
export function toApiCode(error: JwtError): 'TOKEN_EXPIRED' | 'INVALID_TOKEN' {
  return error.code === 'JWT_EXPIRED' ? 'TOKEN_EXPIRED' : 'INVALID_TOKEN';
}
