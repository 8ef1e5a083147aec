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
 * - The only URL ever fetched is the one given here. Nothing in a token (`jku`, `x5u`, `kid`)
 *   reaches a URL.
 */
import { ConfigError, LatchkeyError, type JwksErrorCode } from '../errors.js';
import { importJwk, type JwsAlgorithm, type KeyResolver, type VerificationKey } from '../jwt/index.js';
import { freshnessSeconds } from './cache-control.js';

/** The subset of `fetch` the client uses (inject one in tests). */
export type JwksFetch = (url: string, init: { signal: AbortSignal; headers: Record<string, string> }) => Promise<Response>;

export interface RemoteJwksOptions {
  /** The JWKS URL: `https:`, or `http:` on a loopback host (or with `allowInsecureHttp`). */
  url: string | URL;
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

/** Validates the options once and returns the client. */
export function createRemoteJwks(options: RemoteJwksOptions): RemoteJwks {
  let url: URL;
  try {
    url = new URL(String(options.url));
  } catch {
    throw new ConfigError('jwksUrl', 'an absolute URL is required', 'format');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (LOOPBACK.has(url.hostname) || options.allowInsecureHttp))) {
    throw new ConfigError('jwksUrl', 'https is required (http only on loopback or with allowInsecureHttp)', 'format');
  }
  if (url.username || url.password) throw new ConfigError('jwksUrl', 'credentials in the URL are not accepted', 'format');
  const href = url.href;
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

  async function downloadWith(signal: AbortSignal): Promise<KeySet> {
    let response: Response;
    try {
      response = await fetchImpl(href, { signal, headers: { accept: ACCEPT } });
    } catch (error) {
      throw new JwksFetchError('JWKS_NETWORK', 'The JWKS endpoint could not be reached.', { cause: error });
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      throw new JwksFetchError('JWKS_HTTP_STATUS', `The JWKS endpoint answered HTTP ${response.status}.`);
    }
    const text = await readLimited(response, maxResponseBytes);
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new JwksFetchError('JWKS_INVALID', 'The JWKS response is not JSON.');
    }
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
    url: href,
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
      return { url: href, loaded, kids: [...keys.keys()], fetchedAt, expiresAt, lastError: lastError?.code };
    },
  };
}

async function readLimited(response: Response, limit: number): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new JwksFetchError('JWKS_TOO_LARGE', `The JWKS response is larger than ${limit} bytes.`);
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
      throw new JwksFetchError('JWKS_NETWORK', 'The JWKS response was interrupted.', { cause: error });
    }
    if (chunk.done) break;
    size += chunk.value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new JwksFetchError('JWKS_TOO_LARGE', `The JWKS response is larger than ${limit} bytes.`);
    }
    chunks.push(chunk.value);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new JwksFetchError('JWKS_INVALID', 'The JWKS response is not UTF-8.');
  }
}
