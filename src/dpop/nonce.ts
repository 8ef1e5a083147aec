/**
 * Server-provided DPoP nonces (RFC 9449 §8): `DPoP-Nonce` values the client must put in its
 * next proofs, which bounds how long a proof made in advance (by malware on the device,
 * say) stays usable.
 *
 * Nonces are stateless and shared by every instance holding the same secret: a nonce is
 * `base64url(window ‖ HMAC-SHA256(secret, window)[0..16])` where `window` counts periods of
 * `periodMs` (default 5 minutes). The current and the previous period's nonces are accepted,
 * so a nonce lives between one and two periods, and a client that just received one never
 * meets a refusal for it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Issues and checks server nonces. */
export interface DpopNonces {
  /** The nonce to send in `DPoP-Nonce` now. */
  current(): string;
  /** Whether a proof's `nonce` claim is one of the accepted nonces. Never throws. */
  accepts(nonce: unknown): boolean;
}

/** Options of {@link createDpopNonces}. */
export interface DpopNonceOptions {
  /** At least 32 bytes; instances that must accept each other's nonces share it. */
  secret: Uint8Array;
  /** Length of one nonce period in ms. Default 300,000 (5 minutes). */
  periodMs?: number;
  /** Current time in ms. Default `Date.now`. */
  now?: () => number;
}

const MAC_BYTES = 16;
const NONCE_LENGTH = Math.ceil(((4 + MAC_BYTES) * 4) / 3);

export function createDpopNonces(options: DpopNonceOptions): DpopNonces {
  const { secret, periodMs = 300_000, now = Date.now } = options;
  if (!(secret instanceof Uint8Array) || secret.length < 32) throw new RangeError('secret: at least 32 bytes are required');
  if (!Number.isInteger(periodMs) || periodMs < 1000) throw new RangeError('periodMs: at least 1000 ms is required');
  const key = Buffer.from(secret);
  let cached: { window: number; nonce: string } | undefined;

  function macOf(window: number): Buffer {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(window >>> 0);
    return Buffer.concat([counter, createHmac('sha256', key).update(counter).digest().subarray(0, MAC_BYTES)]);
  }

  function nonceFor(window: number): string {
    if (cached?.window !== window) cached = { window, nonce: macOf(window).toString('base64url') };
    return cached.nonce;
  }

  return {
    current: () => nonceFor(Math.floor(now() / periodMs)),
    accepts(nonce) {
      if (typeof nonce !== 'string' || nonce.length !== NONCE_LENGTH) return false;
      const bytes = Buffer.from(nonce, 'base64url');
      if (bytes.length !== 4 + MAC_BYTES || bytes.toString('base64url') !== nonce) return false;
      const window = bytes.readUInt32BE(0);
      const currentWindow = Math.floor(now() / periodMs) >>> 0;
      if (window !== currentWindow && window !== (currentWindow - 1) >>> 0) return false;
      return timingSafeEqual(bytes, macOf(window));
    },
  };
}
