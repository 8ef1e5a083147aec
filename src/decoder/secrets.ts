/** The shipped list of common secrets: membership test and an offline guess of an HS* token's secret. */
import { hashOf, type JwsAlgorithm } from './algorithms.js';
import { COMMON_SECRETS_COUNT, COMMON_SECRETS_TEXT } from './common-secrets.js';
import type { DecodedJws } from './decode.js';

let cached: string[] | undefined;
let cachedSet: Set<string> | undefined;

/** The common-secrets list (see data-files/LICENSE-common-jwt-secrets.md). */
export function commonSecrets(): readonly string[] {
  cached ??= COMMON_SECRETS_TEXT.split('\n');
  return cached;
}

export { COMMON_SECRETS_COUNT };

/** True when `secret` is in the shipped list (exact match). */
export function isCommonSecret(secret: string): boolean {
  cachedSet ??= new Set(commonSecrets());
  return cachedSet.has(secret);
}

export type GuessResult =
  | { found: true; secret: string; index: number; tried: number }
  | { found: false; tried: number; reason?: 'NOT_HMAC' | 'ABORTED' };

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Tries every entry of the list (or `candidates`) as the HMAC secret of an HS256/384/512 token,
 * locally with WebCrypto. `shouldStop` is polled between batches so the page can abandon a stale guess.
 */
export async function guessCommonSecret(
  token: DecodedJws,
  options: { candidates?: readonly string[]; shouldStop?: () => boolean; batch?: number } = {},
): Promise<GuessResult> {
  const alg = token.headerJson.alg;
  if (alg !== 'HS256' && alg !== 'HS384' && alg !== 'HS512') return { found: false, tried: 0, reason: 'NOT_HMAC' };
  const expectedLength = Number(alg.slice(2)) / 8;
  if (token.signature.length !== expectedLength) return { found: false, tried: 0 };
  const hash = hashOf(alg as JwsAlgorithm);
  const data = new TextEncoder().encode(token.signingInput);
  const list = options.candidates ?? commonSecrets();
  const enc = new TextEncoder();
  const batch = options.batch ?? 256;
  for (let start = 0; start < list.length; start += batch) {
    if (options.shouldStop?.()) return { found: false, tried: start, reason: 'ABORTED' };
    const slice = list.slice(start, start + batch);
    const macs = await Promise.all(
      slice.map(async (secret) => {
        const bytes = enc.encode(secret);
        if (bytes.length === 0) return null;
        const key = await crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash }, false, ['sign']);
        return new Uint8Array(await crypto.subtle.sign('HMAC', key, data));
      }),
    );
    for (let k = 0; k < macs.length; k++) {
      const mac = macs[k];
      if (mac && equalBytes(mac, token.signature)) return { found: true, secret: slice[k]!, index: start + k, tried: start + k + 1 };
    }
  }
  return { found: false, tried: list.length };
}
