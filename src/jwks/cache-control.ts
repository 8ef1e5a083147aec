/** The one part of `Cache-Control` (RFC 9111 §5.2) a JWKS client needs: how long to keep the answer. */

/**
 * Seconds the response may be reused: `max-age`, or `0` for `no-cache`/`no-store`;
 * `undefined` when the header says nothing about freshness (or is malformed).
 */
export function freshnessSeconds(header: string | null | undefined): number | undefined {
  if (!header) return undefined;
  let maxAge: number | undefined;
  for (const part of header.split(',')) {
    const [rawName = '', rawValue] = part.split('=', 2);
    const name = rawName.trim().toLowerCase();
    if (name === 'no-store' || name === 'no-cache') return 0;
    if (name === 'max-age' && rawValue !== undefined) {
      const value = rawValue.trim().replace(/^"(.*)"$/, '$1');
      if (/^\d{1,10}$/.test(value)) maxAge = Number(value);
    }
  }
  return maxAge;
}
