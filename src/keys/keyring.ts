/**
 * The key ring: which key signs access tokens now, which keys still verify, and the
 * public JWKS. Keys live in the store (private part sealed under the master secret),
 * so every instance sharing a database shares them; each instance reloads the ring
 * every `reloadIntervalMs` (default 10 s), which bounds how long a rotation done
 * elsewhere takes to be used here. A token whose `kid` is not (yet) known triggers one
 * extra reload ({@link KeyRing.ensureKid}, at most one per {@link UNKNOWN_KID_COOLDOWN_MS}),
 * so a token signed by another instance right after a rotation verifies here at once.
 * A failed reload (database down) keeps the keys already loaded.
 *
 * Lifecycle of a stored key: `next` (published and verifying, not signing yet) → `current`
 * (signs) → `retired` (published and verifying until `expiresAt` = retirement + access-token
 * TTL + clock tolerance) → dropped. The ring always keeps one `next` key, so a rotation
 * promotes a key that every JWKS cache refreshed since the previous rotation already holds:
 * resource servers never meet an unknown `kid` because of a routine rotation.
 * HS256 is the exception: its secret comes from configuration, is never stored and is
 * never published.
 */
import { createHash, createPrivateKey, createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Store, SigningKeyRecord } from '../store/types.js';
import type { SigningAlgorithm } from '../config/config.js';
import { ConfigError, LatchkeyError } from '../errors.js';
import { generateKeyPair, exportPublicJwk, type VerificationKey, type PublicJwk as JsonWebKey } from '../jwt/index.js';
import { seal, unseal } from './sealing.js';

export interface KeyRingOptions {
  store: Store;
  /** AES-256 key that seals private keys at rest (derived from the master secret). */
  keyEncryptionKey: Buffer;
  alg: SigningAlgorithm;
  /** Required for HS256: the shared secret bytes (≥ 32). */
  hs256Secret?: Uint8Array | undefined;
  /** Seconds; a retired key stays published this long (+ `clockTolerance`). */
  accessTokenTtl: number;
  clockTolerance?: number;
  now?: () => number;
  /** How often to re-read keys from the store (ms); 0 disables. */
  reloadIntervalMs?: number;
  /** Told about failed background reloads (pino-compatible). */
  logger?: { warn(obj: object, msg?: string): void } | undefined;
}

/**
 * Seconds verifiers may keep the published JWKS (`Cache-Control: max-age` of
 * `/.well-known/jwks.json`, docs/http-api.md#jwks): a verifier that refetches only when this
 * runs out learns of a new key at most this long after it was published.
 */
export const JWKS_MAX_AGE_SECONDS = 300;

/**
 * The least age of the `next` key a rotation may promote (docs/architecture.md#keys): every
 * instance publishes it within `LATCHKEY_KEY_RELOAD_INTERVAL` (at most 30 s) of its creation,
 * and a verifier that fetched the JWKS just before that keeps it for {@link JWKS_MAX_AGE_SECONDS}.
 * Promoted sooner, the key could sign tokens such a verifier has no key for.
 */
export const ROTATION_MIN_NEXT_AGE_SECONDS = JWKS_MAX_AGE_SECONDS + 30;

/** Minimum time between two reloads triggered by unknown `kid`s (bounds junk-token load on the store). */
export const UNKNOWN_KID_COOLDOWN_MS = 500;

/** The key that signs new tokens. */
export interface ActiveSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  key: KeyObject;
}

export class KeyRing {
  #options: Required<Omit<KeyRingOptions, 'hs256Secret' | 'logger'>> & Pick<KeyRingOptions, 'hs256Secret' | 'logger'>;
  #signing!: ActiveSigningKey;
  /** Whether the store holds a `next` key (published ahead of signing). */
  #hasNext = false;
  #verification = new Map<string, VerificationKey>();
  #jwks: { keys: JsonWebKey[] } = { keys: [] };
  #timer: NodeJS.Timeout | undefined;
  /** The reload in flight, shared by every caller that asks meanwhile. */
  #reloading: Promise<void> | undefined;
  /** When the last reload for an unknown `kid` started (ms, monotonic). */
  #lastKidReloadAt = -Infinity;
  #kidReload: Promise<void> | undefined;
  /** Loads started / the newest load applied: a slow, older read never overwrites a newer one. */
  #loadsStarted = 0;
  #loadApplied = 0;

  private constructor(options: KeyRingOptions) {
    this.#options = {
      clockTolerance: 60,
      now: Date.now,
      reloadIntervalMs: 10_000,
      ...options,
    };
  }

  /** Loads the ring, creating the first key when the store has none (race-safe across instances). */
  static async open(options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(options);
    if (options.alg === 'HS256') {
      ring.#useHs256();
      return ring;
    }
    await ring.reload();
    if (!ring.#signing) {
      await options.store.insertFirstSigningKey(ring.#newKeyRecord());
      await ring.reload();
    }
    if (!ring.#hasNext) {
      await options.store.insertNextSigningKey(ring.#newKeyRecord());
      await ring.reload();
    }
    // Configuration switched algorithm: start signing with a key of the new one (the first
    // rotation may promote a `next` key of the old algorithm, the second one is new); old
    // keys keep verifying until their tokens have expired.
    // Forced: the configuration asked for the new algorithm now; verifiers meet its key as an
    // unknown kid and refetch the JWKS.
    for (let i = 0; i < 2 && ring.#signing.alg !== options.alg; i++) await ring.rotate({ force: true });
    if (ring.#options.reloadIntervalMs > 0) {
      ring.#timer = setInterval(() => {
        ring.reload().catch((error: unknown) => {
          // Keep serving with the keys we have; the next tick retries.
          ring.#options.logger?.warn(
            { err: { type: (error as Error)?.name, code: (error as { code?: string })?.code } },
            'signing-key reload failed; keeping the keys loaded before',
          );
        });
      }, ring.#options.reloadIntervalMs);
      ring.#timer.unref();
    }
    return ring;
  }

  /** The key new tokens are signed with. */
  get signingKey(): ActiveSigningKey {
    return this.#signing;
  }

  /** Verification key by `kid`, synchronous (the verifier's hot path). */
  resolve = (kid: string): VerificationKey | undefined => this.#verification.get(kid);

  /** The public JWKS: every key that may still verify a live token. Never a secret. */
  jwks(): { keys: JsonWebKey[] } {
    return this.#jwks;
  }

  /**
   * Makes sure `kid` is known if the store has it: when it is not loaded, reloads the ring
   * (one reload shared by concurrent callers, at most one per {@link UNKNOWN_KID_COOLDOWN_MS};
   * a caller inside the cooldown waits for the next one). Returns whether `kid` is known.
   * Throws StoreUnavailableError when the store cannot be read.
   */
  async ensureKid(kid: string): Promise<boolean> {
    if (this.#verification.has(kid)) return true;
    if (this.#options.alg === 'HS256') return false;
    const askedAt = performance.now();
    // A shared reload that read the store before this call may predate the key: then one more.
    for (let round = 0; round < 2 && !this.#verification.has(kid); round++) {
      this.#kidReload ??= (async () => {
        try {
          const wait = this.#lastKidReloadAt + UNKNOWN_KID_COOLDOWN_MS - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
          this.#lastKidReloadAt = performance.now();
          await this.#load();
        } finally {
          this.#kidReload = undefined;
        }
      })();
      await this.#kidReload;
      if (this.#lastKidReloadAt >= askedAt) break;
    }
    return this.#verification.has(kid);
  }

  /** Re-reads keys from the store (concurrent calls share one read). */
  reload(): Promise<void> {
    if (this.#options.alg === 'HS256') return Promise.resolve();
    this.#reloading ??= this.#load().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #load(): Promise<void> {
    const generation = ++this.#loadsStarted;
    const records = await this.#options.store.listSigningKeys(this.#options.now());
    if (generation < this.#loadApplied) return;
    const verification = new Map<string, VerificationKey>();
    const published: JsonWebKey[] = [];
    let signing: ActiveSigningKey | undefined;
    let hasNext = false;
    for (const record of records) {
      if (record.state === 'next') hasNext = true;
      const alg = record.alg as SigningAlgorithm;
      const publicKey = createPublicKey({ key: JSON.parse(record.publicJwk), format: 'jwk' });
      verification.set(record.kid, { kid: record.kid, alg, key: publicKey });
      published.push(exportPublicJwk(record.kid, alg, publicKey));
      if (record.state === 'current') {
        const existing = this.#signing?.kid === record.kid ? this.#signing : undefined;
        signing = existing ?? {
          kid: record.kid,
          alg,
          key: createPrivateKey({
            key: unseal(this.#options.keyEncryptionKey, record.privateKeySealed, record.kid),
            format: 'der',
            type: 'pkcs8',
          }),
        };
      }
    }
    this.#loadApplied = generation;
    this.#hasNext = hasNext;
    this.#verification = verification;
    this.#jwks = { keys: published };
    if (signing) this.#signing = signing;
  }

  /**
   * Starts signing with the `next` key (already published) and publishes a fresh `next`.
   * The previous key keeps verifying, and stays in the JWKS, until every token it signed
   * has expired. Returns the `kid` that signs from now on.
   *
   * Refused with `KEY_ROTATION_TOO_SOON` while the `next` key is younger than
   * {@link ROTATION_MIN_NEXT_AGE_SECONDS} (two rotations in quick succession): the error's
   * `retryAt` (ms) says when it will be allowed. `force` promotes it anyway — for a
   * compromised key; verifiers holding an older JWKS then meet an unknown kid and refetch.
   */
  async rotate(options: { force?: boolean } = {}): Promise<string> {
    if (this.#options.alg === 'HS256') {
      throw new LatchkeyError('KEY_ROTATION_UNSUPPORTED', 'HS256 keys come from LATCHKEY_HS256_SECRET; rotate by changing it.');
    }
    const now = this.#options.now();
    const previous = this.#signing?.kid ?? null;
    const record = this.#newKeyRecord();
    const retiredKeyExpiresAt = now + (this.#options.accessTokenTtl + this.#options.clockTolerance) * 1000;
    const minAgeMs = ROTATION_MIN_NEXT_AGE_SECONDS * 1000;
    const outcome = await this.#options.store.rotateSigningKey(record, now, retiredKeyExpiresAt, options.force ? undefined : now - minAgeMs);
    if (!outcome.rotated) throw new KeyRotationTooSoonError(outcome.nextCreatedAt + minAgeMs);
    // Not the shared reload: one already in flight may have read the keys before the rotation.
    await this.#load();
    const kid = this.#signing.kid;
    // Every rotation is audited here (CLI, start-up algorithm switch, embedders). Best-effort:
    // the rotation is committed and must not be reported as failed.
    await this.#options.store.appendAudit({ type: 'key_rotated', at: now, detail: { kid, previous, next: record.kid } }).catch((error: unknown) => {
      this.#options.logger?.warn({ err: { type: (error as Error)?.name } }, 'could not audit a key rotation');
    });
    return kid;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  #newKeyRecord(): Omit<SigningKeyRecord, 'state' | 'retiredAt' | 'expiresAt'> {
    const alg = this.#options.alg;
    if (alg === 'HS256') throw new LatchkeyError('KEY_ROTATION_UNSUPPORTED', 'HS256 keys are not stored.');
    const kid = randomBytes(12).toString('base64url');
    const { privateKey, publicKey } = generateKeyPair(alg);
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    return {
      kid,
      alg,
      publicJwk: JSON.stringify(exportPublicJwk(kid, alg, publicKey)),
      privateKeySealed: seal(this.#options.keyEncryptionKey, pkcs8, kid),
      createdAt: this.#options.now(),
    };
  }

  #useHs256(): void {
    const secret = this.#options.hs256Secret;
    if (!secret) throw new ConfigError('LATCHKEY_HS256_SECRET', 'required with HS256', 'required');
    const key = createSecretKey(Buffer.from(secret));
    // A stable, non-reversible id so tokens name the secret they were made with.
    const kid = `hs256-${createHash('sha256').update(secret).digest('base64url').slice(0, 12)}`;
    this.#signing = { kid, alg: 'HS256', key };
    this.#verification.set(kid, { kid, alg: 'HS256', key });
  }
}

/** A rotation refused because the `next` key has not been published long enough ({@link KeyRing.rotate}). */
export class KeyRotationTooSoonError extends LatchkeyError {
  /** When the rotation will be allowed (ms since 1970). */
  readonly retryAt: number;

  constructor(retryAt: number) {
    super(
      'KEY_ROTATION_TOO_SOON',
      `The next signing key has been published for less than ${ROTATION_MIN_NEXT_AGE_SECONDS} s, so verifiers caching the JWKS ` +
        `may not hold it yet; rotating is allowed from ${new Date(retryAt).toISOString()}.`,
    );
    this.name = 'KeyRotationTooSoonError';
    this.retryAt = retryAt;
  }
}
