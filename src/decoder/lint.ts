/**
 * Lints a decoded token: every finding is a {@link Warning} with a stable code. Pure and
 * synchronous; the clock is a parameter. (Key-dependent findings come from `verifyToken`,
 * the common-secret guess from `guessCommonSecret`.)
 */
import { isJwsAlgorithm, JWE_ALGORITHMS } from './algorithms.js';
import type { DecodeResult } from './decode.js';
import type { JsonNode } from './json.js';
import { describeTimes, humanDuration, type TimeInfo } from './times.js';
import { warning, type Warning } from './warnings.js';

export interface LintOptions {
  /** Current time in ms since 1970. */
  now: number;
  /** Longest acceptable lifetime (exp − iat, or exp − nbf) in seconds; default 86,400 (one day). */
  maxLifetimeSeconds?: number;
  /** Expected `typ` (e.g. `at+jwt`); default: any JWT media type. */
  expectedTyp?: string;
  /** Seconds by which `iat` may lie in the future before it is flagged; default 60. */
  clockSkewSeconds?: number;
  /** For `times` in the result. */
  timeZone?: string;
}

const DEFAULT_MAX_LIFETIME_SECONDS = 86_400;
const MAX_SENSITIVE = 20;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters in a kid are what this pattern detects
const KID_BAD = /\.\.|[/\\'"`;|&$<>\x00-\x1f\x7f]|--|\/\*|\b(?:union|select|insert|update|delete|drop|or|and)\b\s/i;
const JWT_TYP = /^(?:application\/)?(?:[a-z0-9!#$&^_.+-]+\+)?jwt$/i;
/** The domain after an `@` (anchored: tested on a bounded window, never on the whole string). */
const EMAIL_DOMAIN = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/;
const EMAIL_LOCAL_END = /[A-Za-z0-9._%+-]$/;
/** `@` signs examined per string: enough for any real payload, a bound for hostile ones. */
const MAX_AT_SIGNS = 256;

/**
 * Whether `text` contains something shaped like an e-mail address. Linear in the length: an
 * unanchored e-mail regex backtracks quadratically on long runs of name characters (a 100 KB
 * claim took 11 s), so only the text around each `@` is examined (RFC 5321 bounds: 64 before,
 * 255 after).
 */
function containsEmail(text: string): boolean {
  let seen = 0;
  for (let at = text.indexOf('@'); at !== -1 && seen < MAX_AT_SIGNS; at = text.indexOf('@', at + 1), seen++) {
    if (at > 0 && EMAIL_LOCAL_END.test(text.slice(at - 1, at)) && EMAIL_DOMAIN.test(text.slice(at + 1, at + 256))) return true;
  }
  return false;
}
const SECRET_NAME = /password|passwd|passphrase|secret|apikey|privatekey|accesskey|creditcard|cardnumber|^pwd$|^pin$|^ssn$|^cvv$|^cvc$/;
const PHONE_NAME = /phone|mobile|^tel|fax/;
const CARD_NAME = /card|^pan$/;

function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

function isCardLike(text: string): boolean {
  if (!/^(?:\d[ -]?){12,18}\d$/.test(text)) return false;
  const digits = text.replace(/\D/g, '');
  if (/^(\d)\1+$/.test(digits)) return false;
  return luhn(digits);
}

function isPhoneLike(text: string, keyHint: boolean): boolean {
  const t = text.trim();
  const digits = t.replace(/\D/g, '').length;
  if (/^\+[1-9][0-9 ().-]{6,20}$/.test(t)) return digits >= 8 && digits <= 15;
  if (keyHint && /^[0-9 ()+.-]+$/.test(t)) return digits >= 7 && digits <= 15;
  return false;
}

const normName = (key: string): string => key.toLowerCase().replace(/[^a-z0-9]/g, '');
const escapePointer = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

function scanSensitive(node: JsonNode, path: string, key: string, out: Warning[]): void {
  if (out.length >= MAX_SENSITIVE) return;
  const name = normName(key);
  if (node.type === 'string') {
    const v = node.value;
    if (containsEmail(v)) out.push(warning('SENSITIVE_EMAIL', `At ${path}.`, path));
    else if (isCardLike(v)) out.push(warning('SENSITIVE_CARD_NUMBER', `At ${path}.`, path));
    else if (isPhoneLike(v, PHONE_NAME.test(name))) out.push(warning('SENSITIVE_PHONE', `At ${path}.`, path));
  } else if (node.type === 'number' && CARD_NAME.test(name) && /^\d{13,19}$/.test(node.raw) && luhn(node.raw)) {
    out.push(warning('SENSITIVE_CARD_NUMBER', `At ${path}.`, path));
  } else if (node.type === 'array') {
    for (const [i, item] of node.items.entries()) scanSensitive(item, `${path}/${i}`, key, out);
  } else if (node.type === 'object') {
    for (const m of node.members) {
      const childPath = `${path}/${escapePointer(m.key)}`;
      if (SECRET_NAME.test(normName(m.key)) && out.length < MAX_SENSITIVE) {
        out.push(warning('SENSITIVE_CLAIM_NAME', `Member ${childPath}.`, childPath));
      }
      scanSensitive(m.value, childPath, m.key, out);
    }
  }
}

function lintHeader(header: Record<string, unknown>, kind: 'JWS' | 'JWE', options: LintOptions, out: Warning[]): void {
  const alg = header.alg;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') out.push(warning('ALG_NONE', undefined, '/header/alg'));
  else if (kind === 'JWS' ? !isJwsAlgorithm(alg) : !(typeof alg === 'string' && JWE_ALGORITHMS.includes(alg))) {
    out.push(warning('ALG_UNKNOWN', undefined, '/header/alg'));
  }
  if ('jku' in header) out.push(warning('HEADER_JKU', 'It was not fetched.', '/header/jku'));
  if ('x5u' in header) out.push(warning('HEADER_X5U', 'It was not fetched.', '/header/x5u'));
  if ('jwk' in header) out.push(warning('HEADER_JWK', undefined, '/header/jwk'));
  if ('x5c' in header) out.push(warning('HEADER_X5C', undefined, '/header/x5c'));
  if ('kid' in header) {
    const kid = header.kid;
    if (typeof kid !== 'string' || KID_BAD.test(kid)) out.push(warning('KID_SUSPICIOUS', undefined, '/header/kid'));
  }
  if ('crit' in header) {
    const crit = header.crit;
    if (!Array.isArray(crit) || crit.length === 0 || crit.some((c) => typeof c !== 'string' || c.length === 0)) {
      out.push(warning('CRIT_UNKNOWN', 'crit must be a non-empty array of names.', '/header/crit'));
    } else {
      const names = (crit as string[])
        .slice(0, 5)
        .map((c) => JSON.stringify(c.slice(0, 40)))
        .join(', ');
      out.push(warning('CRIT_UNKNOWN', `Listed: ${names}.`, '/header/crit'));
    }
  }
  const typ = header.typ;
  const norm = (t: string): string => t.toLowerCase().replace(/^application\//, '');
  if (options.expectedTyp !== undefined) {
    if (typeof typ !== 'string' || norm(typ) !== norm(options.expectedTyp)) {
      out.push(warning('TYP_MISMATCH', `Expected ${JSON.stringify(options.expectedTyp)}.`, '/header/typ'));
    }
  } else if (typ !== undefined) {
    const ok = typeof typ === 'string' && (JWT_TYP.test(typ) || (kind === 'JWE' && /^(application\/)?jose$/i.test(typ)));
    if (!ok) out.push(warning('TYP_MISMATCH', undefined, '/header/typ'));
  }
}

function lintTimes(times: TimeInfo[], payload: Record<string, unknown>, options: LintOptions, out: Warning[]): void {
  for (const t of times) {
    const path = `/payload/${t.claim}`;
    if (t.problem === 'NOT_NUMERIC')
      out.push(warning('TIME_NOT_NUMERIC', `${t.claim} is a ${Array.isArray(t.raw) ? 'array' : t.raw === null ? 'null' : typeof t.raw}.`, path));
    else if (t.problem === 'OUT_OF_RANGE') out.push(warning('TIME_OUT_OF_RANGE', `${t.claim}.`, path));
    else if (t.problem === 'MILLISECONDS') {
      out.push(warning('TIME_MILLISECONDS', `${t.claim} read as milliseconds would be ${t.asMillisecondsIso ?? 'out of range'}.`, path));
    }
  }
  const seconds = (c: string): number | undefined => times.find((t) => t.claim === c && t.seconds !== undefined)?.seconds;
  const exp = seconds('exp');
  const nbf = seconds('nbf');
  const iat = seconds('iat');
  const nowS = options.now / 1000;
  if (!('exp' in payload)) out.push(warning('EXP_MISSING', undefined, '/payload'));
  if (exp !== undefined && nowS >= exp) out.push(warning('EXPIRED', `${times.find((t) => t.claim === 'exp')?.relative}.`, '/payload/exp'));
  if (nbf !== undefined && nowS < nbf) out.push(warning('NOT_YET_VALID', `${times.find((t) => t.claim === 'nbf')?.relative}.`, '/payload/nbf'));
  if (iat !== undefined && iat > nowS + (options.clockSkewSeconds ?? 60)) out.push(warning('IAT_FUTURE', undefined, '/payload/iat'));
  if (exp !== undefined) {
    const from = iat ?? nbf ?? nowS;
    const max = options.maxLifetimeSeconds ?? DEFAULT_MAX_LIFETIME_SECONDS;
    if (exp - from > max) {
      out.push(warning('LIFETIME_LONG', `About ${humanDuration((exp - from) * 1000)} (threshold ${humanDuration(max * 1000)}).`, '/payload/exp'));
    }
  }
}

export interface LintResult {
  warnings: Warning[];
  /** Time claims described for display (empty for JWE and failures). */
  times: TimeInfo[];
}

/** Lints a decode result. A failed decode gives no warnings (the failure itself is the finding). */
export function lintToken(decoded: DecodeResult, options: LintOptions): LintResult {
  const out: Warning[] = [];
  if (!decoded.ok) return { warnings: out, times: [] };
  lintHeader(decoded.headerJson, decoded.kind, options, out);
  for (const d of decoded.duplicates.header)
    out.push(warning('DUPLICATE_KEYS', `"${d.key.slice(0, 40)}" in the header.`, `/header${d.path === '/' ? '' : d.path}`));
  if (decoded.kind === 'JWE') {
    out.push(warning('JWE', `enc ${typeof decoded.headerJson.enc === 'string' ? decoded.headerJson.enc.slice(0, 40) : 'missing'}.`, '/header'));
    return { warnings: out, times: [] };
  }
  for (const d of decoded.duplicates.payload)
    out.push(warning('DUPLICATE_KEYS', `"${d.key.slice(0, 40)}" in the payload.`, `/payload${d.path === '/' ? '' : d.path}`));
  const alg = decoded.headerJson.alg;
  if (decoded.signature.length === 0 && !(typeof alg === 'string' && alg.toLowerCase() === 'none')) {
    out.push(warning('SIGNATURE_EMPTY', undefined, '/signature'));
  }
  const timeOpts = options.timeZone ? { now: options.now, timeZone: options.timeZone } : { now: options.now };
  const times = describeTimes(decoded.payloadJson, timeOpts);
  lintTimes(times, decoded.payloadJson, options, out);
  scanSensitive(decoded.payload, '/payload', '', out);
  return { warnings: out, times };
}
