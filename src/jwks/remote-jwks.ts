/**
 * A client for a remote JWKS (RFC 7517 §5), for resource servers that verify Latchkey
 * access tokens without sharing a secret.
 *
 * - Keys are resolved synchronously from the cache: the hot path never waits on the network.
 * - The cache lives for the response's `Cache-Control: max-age` (default 10 minutes, capped at
 *   24 hours); once it is stale the next lookup starts a background refresh.
 * - An unknown `kid` may trigger a refetch ({@link RemoteJwks.refetch}), at most one per
 *   cooldown (default 30 s) and single-flight: a burst of tokens with made-up `kid`s costs one
 *   request per cooldown.
 * - When the endpoint is down, slow (timeout, default 5 s), answers an error or something that
 *   is not a usable JWKS, the last good keys keep serving.
 * - The only URL ever fetched is the one given here — or, given the issuer instead, its
 *   discovery document (`${issuer}/.well-known/openid-configuration`, whose `issuer` must be
 *   exactly this one) and the `jwks_uri` it names. Nothing in a token (`jku`, `x5u`, `kid`,
 *   `iss`) reaches a URL.
 */
import { ConfigError, LatchkeyError, type JwksErrorCode } from '../errors.js';
import { importJwk, type JwsAlgorithm, type KeyResolver, type VerificationKey } from '../jwt/index.js';
import { freshnessSeconds } from './cache-control.js';

/** The subset of `fetch` the client uses (inject one in tests). */
export type JwksFetch = (url: string, init: { signal: AbortSignal; headers: Record<string, string> }) => Promise<Response>;

export interface RemoteJwksOptions {
  /** The JWKS URL: `https:`, or `http:` on a loopback host (or with `allowInsecureHttp`). Give this or `issuer`. */
  url?: string | URL;
  /**
   * Find the JWKS by discovery instead of `url` (docs/embedding.md#discovery): the issuer
   * (`LATCHKEY_ISSUER`), whose `/.well-known/openid-configuration` must name exactly this issuer
   * and a `jwks_uri` that follows the same transport rule as `url`. Discovered again after a
   * failed fetch.
   */
  issuer?: string;
  /** Default `globalThis.fetch`. */
  fetch?: JwksFetch;
  /** Current time in ms. Default `Date.now`. */
  now?: () => number;
  /** Bound on one fetch, body included (ms). Default 5000. */
  timeoutMs?: number;
  /** Minimum time between two fetches (ms). Default 30 000. */
  cooldownMs?: number;
  /** Cache lifetime when the response has no `Cache-Control: max-age` (ms). Default 600 000. */
  defaultMaxAgeMs?: number;
  /** Upper bound on any cache lifetime (ms). Default 86 400 000. */
  maxMaxAgeMs?: number;
  /** Largest accepted response body (bytes). Default 262 144. */
  maxResponseBytes?: number;
  /** Accept `http:` URLs on non-loopback hosts. Default `false`. */
  allowInsecureHttp?: boolean;
  /** Observes failed fetches (for logs). The error's message never contains key material. */
  onError?: (error: JwksFetchError) => void;
}

/** Outcome of {@link RemoteJwks.refetch}. */
export type JwksRefetchResult =
  /** A fetch succeeded just now (the keys may or may not have changed). */
  | 'fetched'
  /** No fetch: the last one is younger than the cooldown, and it succeeded. */
  | 'cooldown'
  /** The fetch just now failed, or the last one (within the cooldown) did. */
  | 'unavailable';

export interface JwksStatus {
  url: string;
  /** At least one fetch has succeeded. */
  loaded: boolean;
  kids: string[];
  fetchedAt: number | undefined;
  expiresAt: number | undefined;
  /** Code of the last failed fetch, when the last fetch failed. */
  lastError: JwksErrorCode | undefined;
}

/** A fetch of the JWKS failed; `code` says how. */
export class JwksFetchError extends LatchkeyError {
  declare readonly code: JwksErrorCode;

  constructor(code: JwksErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'JwksFetchError';
  }
}

export interface RemoteJwks {
  /** The JWKS URL; with `issuer` and until discovery has succeeded, the discovery document's. */
  readonly url: string;
  /** Cache lookup, synchronous. A stale cache starts a background refresh (cooldown permitting). */
  readonly resolve: KeyResolver;
  /** Cooldown-limited, single-flight fetch: call it on an unknown `kid`, or to preload. */
  refetch(): Promise<JwksRefetchResult>;
  status(): JwksStatus;
}

interface KeySet {
  keys: Map<string, VerificationKey>;
  maxAgeMs: number;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const ACCEPT = 'application/jwk-set+json, application/json;q=0.9';

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new ConfigError(name, 'a non-negative number is required', 'range');
  return value;
}

/** Why `raw` may not be fetched (the transport rule of `url`), or its normalised href. */
function checkedUrl(raw: unknown, allowInsecureHttp: boolean | undefined): { href: string } | { problem: string } {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    return { problem: 'an absolute URL is required' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (LOOPBACK.has(url.hostname) || allowInsecureHttp))) {
    return { problem: 'https is required (http only on loopback or with allowInsecureHttp)' };
  }
  if (url.username || url.password) return { problem: 'credentials in the URL are not accepted' };
  return { href: url.href };
}

/** OpenID Connect Discovery 1.0 §4: the issuer, without a trailing slash, + the well-known path. */
const DISCOVERY_PATH = '/.well-known/openid-configuration';

/** Validates the options once and returns the client. */
export function createRemoteJwks(options: RemoteJwksOptions): RemoteJwks {
  if ((options.url === undefined) === (options.issuer === undefined)) {
    throw new ConfigError('jwksUrl', 'give exactly one of a JWKS URL or an issuer to discover it from', 'conflict');
  }
  const issuer = options.issuer;
  if (issuer !== undefined && typeof issuer !== 'string') throw new ConfigError('issuer', 'a string is required', 'type');
  const given = checkedUrl(issuer === undefined ? options.url : `${issuer.replace(/\/+$/, '')}${DISCOVERY_PATH}`, options.allowInsecureHttp);
  if ('problem' in given) throw new ConfigError(issuer === undefined ? 'jwksUrl' : 'issuer', given.problem, 'format');
  const discoveryHref = issuer === undefined ? undefined : given.href;
  /** The JWKS URL: given, or found by the last successful discovery. */
  let href: string | undefined = issuer === undefined ? given.href : undefined;
  const fetchImpl: JwksFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const now = options.now ?? Date.now;
  const timeoutMs = positive('timeoutMs', options.timeoutMs, 5_000);
  const cooldownMs = positive('cooldownMs', options.cooldownMs, 30_000);
  const maxMaxAgeMs = positive('maxMaxAgeMs', options.maxMaxAgeMs, 86_400_000);
  const defaultMaxAgeMs = Math.min(positive('defaultMaxAgeMs', options.defaultMaxAgeMs, 600_000), maxMaxAgeMs);
  const maxResponseBytes = positive('maxResponseBytes', options.maxResponseBytes, 262_144);

  let keys = new Map<string, VerificationKey>();
  let loaded = false;
  let fetchedAt: number | undefined;
  let expiresAt: number | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastError: JwksFetchError | undefined;
  let inflight: Promise<boolean> | undefined;

  async function download(): Promise<KeySet> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new JwksFetchError('JWKS_TIMEOUT', `The JWKS endpoint did not answer within ${timeoutMs} ms.`));
      }, timeoutMs);
      timer.unref?.();
    });
    try {
      return await Promise.race([timeout, downloadWith(controller.signal)]);
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  /** GET `url` → its JSON and headers; `what` names it in errors. */
  async function getJson(url: string, accept: string, what: string, signal: AbortSignal): Promise<{ document: unknown; response: Response }> {
    let response: Response;
    try {
      response = await fetchImpl(url, { signal, headers: { accept } });
    } catch (error) {
      throw new JwksFetchError('JWKS_NETWORK', `The ${what} endpoint could not be reached.`, { cause: error });
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new JwksFetchError('JWKS_HTTP_STATUS', `The ${what} endpoint answered HTTP ${response.status}.`);
    }
    const text = await readLimited(response, maxResponseBytes, what);
    try {
      return { document: JSON.parse(text), response };
    } catch {
      throw new JwksFetchError('JWKS_INVALID', `The ${what} response is not JSON.`);
    }
  }

  /** The `jwks_uri` of the issuer's discovery document, once it names exactly our issuer. */
  async function discover(url: string, signal: AbortSignal): Promise<string> {
    const { document } = await getJson(url, 'application/json', 'discovery', signal);
    const metadata = (typeof document === 'object' && document !== null ? document : {}) as { issuer?: unknown; jwks_uri?: unknown };
    // A document for another issuer (a misconfiguration, or a host answering for someone else)
    // would make us trust keys that are not the issuer's.
    if (metadata.issuer !== issuer) throw new JwksFetchError('JWKS_INVALID', 'The discovery document names another issuer.');
    if (typeof metadata.jwks_uri !== 'string') throw new JwksFetchError('JWKS_INVALID', 'The discovery document has no "jwks_uri".');
    const found = checkedUrl(metadata.jwks_uri, options.allowInsecureHttp);
    if ('problem' in found) throw new JwksFetchError('JWKS_INVALID', `The discovery document's "jwks_uri" is refused: ${found.problem}.`);
    return found.href;
  }

  async function downloadWith(signal: AbortSignal): Promise<KeySet> {
    let url = href;
    if (url === undefined) url = href = await discover(discoveryHref!, signal);
    let fetched: { document: unknown; response: Response };
    try {
      fetched = await getJson(url, ACCEPT, 'JWKS', signal);
    } catch (error) {
      if (discoveryHref !== undefined) href = undefined; // the issuer may have moved its keys: discover again next time
      throw error;
    }
    const { document, response } = fetched;
    const list = (document as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) throw new JwksFetchError('JWKS_INVALID', 'The JWKS response has no "keys" array.');
    const imported = new Map<string, VerificationKey>();
    for (const jwk of list) {
      // Keys we cannot use (other types, encryption keys, malformed) are skipped, not fatal:
      // a JWKS may legitimately publish keys for other consumers.
      try {
        const key = importJwk(jwk);
        if (!imported.has(key.kid)) imported.set(key.kid, { kid: key.kid, alg: key.alg as JwsAlgorithm, key: key.key });
      } catch {
        /* skipped */
      }
    }
    // An empty set is far more likely a broken deployment than a deliberate "trust nothing":
    // keep the last good keys instead.
    if (imported.size === 0) throw new JwksFetchError('JWKS_INVALID', 'The JWKS response has no usable signing key.');
    const seconds = freshnessSeconds(response.headers.get('cache-control'));
    return { keys: imported, maxAgeMs: Math.min(seconds === undefined ? defaultMaxAgeMs : seconds * 1000, maxMaxAgeMs) };
  }

  /** Single-flight fetch; resolves `true` on success, never rejects. */
  function fetchOnce(): Promise<boolean> {
    if (inflight) return inflight;
    lastAttemptAt = now();
    inflight = download().then(
      (fresh) => {
        const at = now();
        keys = fresh.keys;
        loaded = true;
        fetchedAt = at;
        expiresAt = at + fresh.maxAgeMs;
        lastError = undefined;
        return true;
      },
      (error: unknown) => {
        lastError = error instanceof JwksFetchError ? error : new JwksFetchError('JWKS_NETWORK', 'The JWKS fetch failed.', { cause: error });
        try {
          options.onError?.(lastError);
        } catch {
          /* an observer must not break verification */
        }
        return false;
      },
    );
    void inflight.finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  const coolingDown = () => now() - lastAttemptAt < cooldownMs;

  return {
    get url() {
      return href ?? discoveryHref!;
    },
    resolve(kid: string): VerificationKey | undefined {
      if (loaded && expiresAt !== undefined && now() >= expiresAt && !inflight && !coolingDown()) void fetchOnce();
      return keys.get(kid);
    },
    async refetch(): Promise<JwksRefetchResult> {
      if (inflight) return (await inflight) ? 'fetched' : 'unavailable';
      if (coolingDown()) return lastError ? 'unavailable' : 'cooldown';
      return (await fetchOnce()) ? 'fetched' : 'unavailable';
    },
    status(): JwksStatus {
      return { url: href ?? discoveryHref!, loaded, kids: [...keys.keys()], fetchedAt, expiresAt, lastError: lastError?.code };
    },
  };
}

async function readLimited(response: Response, limit: number, what: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new JwksFetchError('JWKS_TOO_LARGE', `The ${what} response is larger than ${limit} bytes.`);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw new JwksFetchError('JWKS_NETWORK', `The ${what} response was interrupted.`, { cause: error });
    }
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new JwksFetchError('JWKS_TOO_LARGE', `The ${what} response is larger than ${limit} bytes.`);
    }
    chunks.push(chunk.value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new JwksFetchError('JWKS_INVALID', `The ${what} response is not UTF-8.`);
  }
}
