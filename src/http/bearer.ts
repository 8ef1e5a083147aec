/** Bearer-token extraction (RFC 6750 §2.1). Verification itself is the auth service's job. */
import type { IncomingHttpHeaders } from 'node:http';
import { DPOP_CHALLENGE_ALGS } from '../dpop/proof.js';

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * `undefined` when no bearer credentials were sent at all (→ `MISSING_TOKEN`); an empty
 * string when the header is a malformed bearer credential (→ `INVALID_TOKEN`).
 */
export function extractBearerToken(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.authorization;
  if (header === undefined || !/^bearer(\s|$)/i.test(header)) return undefined;
  return BEARER.exec(header)?.[1] ?? '';
}

const DPOP_SCHEME = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i;

/**
 * `Authorization: Bearer …` or `Authorization: DPoP …` (RFC 9449 §7.1); `undefined` when no
 * such credentials were sent, an empty token for a malformed credential.
 */
export function extractCredentials(headers: IncomingHttpHeaders): { scheme: 'Bearer' | 'DPoP'; token: string } | undefined {
  const header = headers.authorization;
  if (header !== undefined && /^dpop(\s|$)/i.test(header)) return { scheme: 'DPoP', token: DPOP_SCHEME.exec(header)?.[1] ?? '' };
  const token = extractBearerToken(headers);
  return token === undefined ? undefined : { scheme: 'Bearer', token };
}

const DPOP_ALGS = DPOP_CHALLENGE_ALGS;

/**
 * The `WWW-Authenticate` of a DPoP failure, the DPoP challenge first (RFC 9449 §7.1, §8):
 * `invalid_dpop_proof` for a missing or bad proof, `use_dpop_nonce` for a proof without the
 * current server nonce, `invalid_token` otherwise.
 */
export function dpopChallenge(code: string): string {
  const error = code === 'INVALID_DPOP_PROOF' ? 'invalid_dpop_proof' : code === 'USE_DPOP_NONCE' ? 'use_dpop_nonce' : 'invalid_token';
  return `DPoP error="${error}", algs="${DPOP_ALGS}", Bearer realm="latchkey"`;
}

/** The `DPoP` header as one string (several arrive as one, joined by commas: malformed). */
export function dpopHeaderOf(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.dpop;
  return Array.isArray(header) ? header.join(', ') : header;
}
