/**
 * The `htu` comparison of RFC 9449 §4.3: the HTTP target URI without query and fragment,
 * compared after syntax- and scheme-based normalisation (RFC 3986 §6.2.2, §6.2.3): scheme and
 * host case-insensitive, default ports (80 for http, 443 for https) dropped, dot segments
 * removed, percent-encodings with upper-case hex and unreserved characters decoded, an empty
 * path written `/`.
 */

/** `%7e` → `~`, `%41` → `A`: percent-encoded unreserved characters mean the character itself. */
const PERCENT = /%([0-9a-fA-F]{2})/g;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

function normalisePercent(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(PERCENT, (_, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}

/**
 * The normal form of an http(s) URI for `htu` matching — `scheme://host[:port]/path` —
 * or `undefined` when `value` is not an absolute http(s) URI (or carries user information,
 * which never belongs in a request target). Never throws.
 */
export function normaliseHtu(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096) return undefined;
  if (!URL.canParse(value)) return undefined;
  // WHATWG URL parsing lower-cases scheme and host, drops default ports and resolves dot segments.
  const url = new URL(value);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') return undefined;
  return `${url.protocol}//${url.host}${normalisePercent(url.pathname)}`;
}
