/**
 * Where a sign-in with an identity provider may return (docs/oidc.md#where-a-sign-in-returns):
 * the one check between a `redirect` query parameter and a `Location` header, so that no
 * attacker-made link can send a freshly signed-in user to another site (an open redirect).
 *
 * Allowed: a path of this site — it starts with exactly one `/` (never `//` or `/\`, which
 * browsers read as another host), holds no `\` anywhere (browsers turn it into `/`), no control
 * character or white space (stripped or altered by browsers and proxies), no `#` (the answer's
 * fragment is ours: `#error=CODE`), and is at most 2048 bytes; a query is allowed. Or an absolute
 * `http(s)` URL under one of the configured prefixes (`LATCHKEY_ALLOWED_REDIRECTS`), compared after
 * parsing, without credentials. Absent: `/`. Pure: no I/O, no configuration of its own.
 */

/** The longest `redirect` accepted, in UTF-8 bytes. */
export const MAX_REDIRECT_BYTES = 2048;

export type RedirectCheck = { ok: true; target: string } | { ok: false };

// C0 controls, DEL, C1 controls, and every Unicode white space (incl. NBSP, line/paragraph separators, BOM).
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters are what this refuses
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\s\u200b\u2028\u2029\ufeff\\#]/u;

/**
 * Checks a `redirect` value against the rule above; `allowedPrefixes` are normalised absolute URL
 * prefixes (`validateConfig` makes `https://app.example` into `https://app.example/`).
 */
export function checkRedirect(value: string | undefined, allowedPrefixes: readonly string[]): RedirectCheck {
  if (value === undefined) return { ok: true, target: '/' };
  if (value === '' || Buffer.byteLength(value, 'utf8') > MAX_REDIRECT_BYTES || FORBIDDEN.test(value)) return { ok: false };
  if (value.startsWith('/')) return value.startsWith('//') ? { ok: false } : { ok: true, target: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false };
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') return { ok: false };
  return allowedPrefixes.some((prefix) => url.href.startsWith(prefix)) ? { ok: true, target: url.href } : { ok: false };
}
