/** Bearer-token extraction (RFC 6750 §2.1). Verification itself is the auth service's job. */
import type { IncomingHttpHeaders } from 'node:http';

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
