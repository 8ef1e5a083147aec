/**
 * The key ring: which key signs access tokens now, which keys still verify, and the
 * public JWKS. Keys live in the store (private part sealed under the master secret),
 * so every instance sharing a database shares them; each instance reloads the ring
 * every `reloadIntervalMs` (default 10 s), which bounds how long a rotation done
 * elsewhere takes to be used here.
 *
 * Lifecycle of a stored key: `current` (signs, published) → `retired` (published and
 * verifying until `expiresAt` = retirement + access-token TTL + clock tolerance) → dropped.
 * HS256 is the exception: its secret comes from configuration, is never stored and is
 * never published.
 */
import { createHash, createPrivateKey, createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import type { Store, SigningKeyRecord } from '../store/types.js';
import type { SigningAlgorithm } from '../config/config.js';
import { LatchkeyError } from '../errors.js';
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
}

/** The key that signs new tokens. */
export interface ActiveSigningKey {
  kid: string;
  alg: SigningAlgorithm;
  key: KeyObject;
}

export class KeyRing {
  #options: Required<Omit<KeyRingOptions, 'hs256Secret'>> & { hs256Secret?: Uint8Array | undefined };
  #signing!: ActiveSigningKey;
  #verification = new Map<string, VerificationKey>();
  #jwks: { keys: JsonWebKey[] } = { keys: [] };
  #timer: NodeJS.Timeout | undefined;

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
    } else if (ring.#signing.alg !== options.alg) {
      // Configuration switched algorithm: start signing with a key of the new one;
      // the old key keeps verifying until its tokens have expired.
      await ring.rotate();
    }
    if (ring.#options.reloadIntervalMs > 0) {
      ring.#timer = setInterval(() => {
        ring.reload().catch(() => {
          /* keep serving with the keys we have; the next tick retries */
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

  /** Re-reads keys from the store. */
  async reload(): Promise<void> {
    if (this.#options.alg === 'HS256') return;
    const records = await this.#options.store.listSigningKeys(this.#options.now());
    const verification = new Map<string, VerificationKey>();
    const published: JsonWebKey[] = [];
    let signing: ActiveSigningKey | undefined;
    for (const record of records) {
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
    this.#verification = verification;
    this.#jwks = { keys: published };
    if (signing) this.#signing = signing;
  }

  /**
   * Starts signing with a fresh key. The previous key keeps verifying, and stays in the
   * JWKS, until every token it signed has expired. Returns the new `kid`.
   */
  async rotate(): Promise<string> {
    if (this.#options.alg === 'HS256') {
      throw new LatchkeyError(
        'KEY_ROTATION_UNSUPPORTED',
        'HS256 keys come from LATCHKEY_HS256_SECRET; rotate by changing it.',
      );
    }
    const now = this.#options.now();
    const record = this.#newKeyRecord();
    const retiredKeyExpiresAt = now + (this.#options.accessTokenTtl + this.#options.clockTolerance) * 1000;
    await this.#options.store.rotateSigningKey(record, now, retiredKeyExpiresAt);
    await this.reload();
    return record.kid;
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
    if (!secret) throw new LatchkeyError('CONFIG_INVALID', 'LATCHKEY_HS256_SECRET: required with HS256');
    const key = createSecretKey(Buffer.from(secret));
    // A stable, non-reversible id so tokens name the secret they were made with.
    const kid = `hs256-${createHash('sha256').update(secret).digest('base64url').slice(0, 12)}`;
    this.#signing = { kid, alg: 'HS256', key };
    this.#verification.set(kid, { kid, alg: 'HS256', key });
  }
}
