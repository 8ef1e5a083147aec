/**
 * The decoder's warnings: stable codes, shared by the page and the CLI, each with a severity and
 * a one-line explanation. `docs/decoder.md` lists every code (a test fails when one is missing).
 * Messages never contain the token, a secret, a key or a claim value.
 */

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export const WARNINGS = {
  ALG_NONE: { severity: 'critical', message: 'alg is "none": the token is unsigned and anyone can forge it.' },
  ALG_UNKNOWN: { severity: 'high', message: 'alg is missing or not a JWS algorithm this decoder knows.' },
  SIGNATURE_EMPTY: { severity: 'high', message: 'The signature part is empty although alg names a signing algorithm.' },
  HMAC_SECRET_SHORT: { severity: 'high', message: 'The HMAC secret is shorter than the hash output (RFC 7518 §3.2) and easier to brute-force.' },
  HMAC_SECRET_COMMON: { severity: 'critical', message: 'The HMAC secret is in a public list of common secrets; anyone can forge tokens with it.' },
  HMAC_SECRET_GUESSED: {
    severity: 'critical',
    message: 'The token is signed with a secret from a public list of common secrets; anyone can forge tokens.',
  },
  KEY_PRIVATE: {
    severity: 'high',
    message: 'The key given contains private parts; only its public part was used. Never paste private keys anywhere.',
  },
  EXP_MISSING: { severity: 'medium', message: 'No exp claim: the token never expires.' },
  LIFETIME_LONG: { severity: 'low', message: 'The token lives longer than the lifetime threshold; a stolen copy stays useful for long.' },
  EXPIRED: { severity: 'medium', message: 'exp lies in the past: the token has expired.' },
  NOT_YET_VALID: { severity: 'medium', message: 'nbf lies in the future: the token is not valid yet.' },
  IAT_FUTURE: { severity: 'low', message: 'iat lies in the future: the issuer clock is off or the claim is wrong.' },
  TIME_MILLISECONDS: {
    severity: 'medium',
    message: 'A time claim looks like milliseconds; JWT times are seconds since 1970 (RFC 7519 NumericDate).',
  },
  TIME_NOT_NUMERIC: { severity: 'medium', message: 'A time claim is not a number; RFC 7519 requires a NumericDate.' },
  TIME_OUT_OF_RANGE: { severity: 'medium', message: 'A time claim is negative or outside the representable date range.' },
  SENSITIVE_EMAIL: { severity: 'info', message: 'The payload contains an e-mail address; JWT payloads are readable by anyone holding the token.' },
  SENSITIVE_PHONE: { severity: 'info', message: 'The payload contains a phone number; JWT payloads are readable by anyone holding the token.' },
  SENSITIVE_CARD_NUMBER: { severity: 'high', message: 'The payload contains a payment-card-like number (passes the Luhn check).' },
  SENSITIVE_CLAIM_NAME: {
    severity: 'high',
    message: 'A payload member is named like a secret (password, secret, api key…); payloads are not encrypted.',
  },
  HEADER_JKU: { severity: 'high', message: 'The header names a key URL (jku); verifiers must never fetch keys from a URL the token names.' },
  HEADER_X5U: { severity: 'high', message: 'The header names a certificate URL (x5u); verifiers must never fetch keys from a URL the token names.' },
  HEADER_JWK: { severity: 'high', message: 'The header embeds a key (jwk); it is self-asserted and never proves the token valid.' },
  HEADER_X5C: { severity: 'medium', message: 'The header embeds a certificate chain (x5c); it is self-asserted unless chained to a trusted root.' },
  KID_SUSPICIOUS: { severity: 'high', message: 'kid contains path, quote, SQL or shell characters (kid injection), or is not a string.' },
  CRIT_UNKNOWN: {
    severity: 'high',
    message: 'crit lists header parameters this decoder does not understand, or is malformed; a verifier must reject the token.',
  },
  TYP_MISMATCH: { severity: 'low', message: 'typ is not a JWT media type, or not the one expected.' },
  JWE: { severity: 'info', message: 'The token is encrypted (JWE): only the protected header can be shown without the decryption key.' },
  DUPLICATE_KEYS: { severity: 'high', message: 'A JSON member name occurs twice; parsers disagree on which value wins.' },
} as const satisfies Record<string, { severity: Severity; message: string }>;

export type WarningCode = keyof typeof WARNINGS;

export const WARNING_CODES = Object.keys(WARNINGS) as WarningCode[];

/** One finding. `path` (a JSON pointer such as `/payload/email`) points at what triggered it. */
export interface Warning {
  code: WarningCode;
  severity: Severity;
  message: string;
  path?: string;
}

/** Builds a warning; `detail` (no secrets, no values) is appended to the table message. */
export function warning(code: WarningCode, detail?: string, path?: string): Warning {
  const entry = WARNINGS[code];
  const w: Warning = { code, severity: entry.severity, message: detail ? `${entry.message} ${detail}` : entry.message };
  if (path !== undefined) w.path = path;
  return w;
}
