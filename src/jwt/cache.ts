/**
 * The verified-token cache of {@link createVerifier} (`cache: { size }`): a bounded map from
 * the exact token string to the outcome of its full verification, so that a token presented
 * again (every request of a session carries the same access token) costs a map lookup
 * instead of a signature check.
 *
 * What makes it safe (docs/jwt.md, *Verified-token cache*):
 * - **Only the exact token string hits.** The map is indexed by the token's last 32 characters
 *   (signature bytes: random-looking, and hashing 32 characters instead of the whole ~400–700
 *   was most of a hit's cost), and an entry holds its full token, compared with `===` before
 *   it counts: another token — one changed character, or a foreign header and payload glued
 *   to a cached signature — can never hit, and never evicts the entry either. No digest stands in for the token, so no
 *   hash collision can put someone else's claims in front of an attacker. Cost: the token
 *   string is kept, ~0.5 KB an entry.
 * - **Only successes are stored.** A token enters after passing every check; a rejected token
 *   is never cached, so junk cannot occupy (and evict) the entries of valid tokens, and an
 *   attacker without valid tokens cannot touch the cache at all.
 * - **Time is re-checked on every hit** (`exp`, `nbf`, `iat` against the verifier's clock and
 *   tolerance); an entry outside its window is dropped and the token verified afresh, which
 *   yields the exact error (`JWT_EXPIRED`, ...).
 * - **The key is re-resolved on every hit.** The entry remembers the prepared key that
 *   verified it; the hit counts only when the key ring still returns that key for the `kid`
 *   (the same `KeyObject`, or one with equal key material). A removed or replaced key
 *   invalidates the entries it verified at their next use.
 * - **Bounded.** At most `size` entries; eviction is CLOCK (second chance), so a hit costs no
 *   map mutation and a flood of one-off tokens does not flush the tokens in steady use.
 *
 * Header and claims of a cached result are deep-frozen: one object is shared by every hit.
 * @internal
 */
import type { PreparedKey } from './algorithms.js';

/** Options of the verified-token cache. */
export interface TokenCacheOptions {
  /** Maximum number of tokens kept, 1..1,000,000. */
  size: number;
}

/** Upper bound of `cache.size` (about 0.5–1 GB of entries; anything larger is a mistake). */
const MAX_TOKEN_CACHE_SIZE = 1_000_000;

/** A token that passed every check, with what a hit must re-check. @internal */
export interface CachedToken<R> {
  /** The token itself: a lookup hits only on `===` with it. */
  readonly token: string;
  /** The frozen result handed out on every hit. */
  readonly result: R;
  /** The `kid` the token names, re-resolved on each hit. */
  readonly kid: string;
  /** The key that verified the token (updated when the ring hands out an equal key object). */
  key: PreparedKey;
  /** `exp`, `nbf` (or −∞) and `iat` in seconds, re-checked on each hit. */
  readonly exp: number;
  readonly nbf: number;
  readonly iat: number;
  /** CLOCK reference bit: used since the hand last passed. */
  used: boolean;
}

/**
 * A bounded string-keyed map with CLOCK eviction. `get` does not mutate; the caller marks a
 * real hit with `entry.used = true`.
 * @internal
 */
export class TokenCache<R> {
  readonly #max: number;
  /** Last 32 characters of the token → entry. */
  readonly #map = new Map<string, CachedToken<R>>();
  /** The CLOCK hand: a live iterator over the map's insertion order. */
  #hand: Iterator<[string, CachedToken<R>]> | undefined;

  constructor(size: number) {
    this.#max = size;
  }

  /** The entry of exactly `token`, if cached. */
  get(token: string): CachedToken<R> | undefined {
    const entry = this.#map.get(indexOf(token));
    return entry !== undefined && entry.token === token ? entry : undefined;
  }

  /** Stores `entry` (for `entry.token`), evicting one unused entry first when full. */
  set(entry: CachedToken<R>): void {
    const index = indexOf(entry.token);
    if (this.#map.size >= this.#max && !this.#map.has(index)) this.#evict();
    this.#map.set(index, entry);
  }

  /** Forgets `token` (only that exact token). */
  delete(token: string): void {
    const index = indexOf(token);
    if (this.#map.get(index)?.token === token) this.#map.delete(index);
  }

  clear(): void {
    this.#map.clear();
    this.#hand = undefined;
  }

  get size(): number {
    return this.#map.size;
  }

  /**
   * Advances the hand: an entry used since the last pass loses its bit and stays; the first
   * unused one is deleted. At most two passes (the second finds every bit cleared).
   */
  #evict(): void {
    for (let steps = 2 * this.#map.size + 1; steps > 0; steps--) {
      let next = this.#hand?.next();
      if (next === undefined || next.done) {
        // A finished Map iterator stays finished; start a new pass from the oldest entry.
        this.#hand = this.#map.entries();
        next = this.#hand.next();
        if (next.done) return;
      }
      const [index, entry] = next.value;
      if (entry.used) {
        entry.used = false;
      } else {
        this.#map.delete(index);
        return;
      }
    }
  }
}

/**
 * The map index of a token: its last 32 characters, 192 bits of its signature (HS256 has 43
 * signature characters, ES256 and EdDSA 86, RS256 342). Two valid tokens never share them.
 */
function indexOf(token: string): string {
  return token.length > INDEX_LENGTH ? token.slice(token.length - INDEX_LENGTH) : token;
}
const INDEX_LENGTH = 32;

/** Checks `cache` options; a reason string when unusable. @internal */
export function tokenCacheProblem(cache: unknown): string | undefined {
  if (typeof cache !== 'object' || cache === null) return 'cache: { size } is required';
  const { size } = cache as Partial<TokenCacheOptions>;
  if (!Number.isInteger(size) || (size as number) < 1 || (size as number) > MAX_TOKEN_CACHE_SIZE) {
    return `cache.size: an integer between 1 and ${MAX_TOKEN_CACHE_SIZE} is required`;
  }
  return undefined;
}

/** Freezes a JSON value (objects and arrays, at any depth), iteratively. @internal */
export function deepFreeze<T>(value: T): T {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || Object.isFrozen(v)) continue;
    Object.freeze(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
    } else {
      const keys = Object.keys(v);
      for (let i = 0; i < keys.length; i++) stack.push((v as Record<string, unknown>)[keys[i] as string]);
    }
  }
  return value;
}
