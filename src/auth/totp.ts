/**
 * TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second steps — what every
 * authenticator app does by default — plus the base32 secret and `otpauth://` URL they scan.
 * Pure functions of the secret and the time step; the clock is the caller's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Seconds per time step. */
const TOTP_PERIOD = 30;
const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one (clock drift of the phone). */
const TOTP_WINDOW = 1;

/** The RFC 6238 time step of `nowMs` (T0 = 0). */
export function timeStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD);
}

/** The HOTP value (RFC 4226 §5.3) of `secret` at counter `step`, as `digits` decimal digits. */
export function totpCode(secret: Uint8Array, step: number, algorithm: 'sha1' | 'sha256' | 'sha512' = 'sha1', digits = TOTP_DIGITS): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac(algorithm, secret).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return binary.toString().padStart(digits, '0');
}

/**
 * The time step within ±{@link TOTP_WINDOW} of `nowMs` whose code is `code`, or `undefined`.
 * Every candidate is compared in constant time; the latest matching step wins.
 */
export function matchTotp(secret: Uint8Array, code: string, nowMs: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const current = timeStep(nowMs);
  const given = Buffer.from(code);
  let matched: number | undefined;
  for (let step = current - TOTP_WINDOW; step <= current + TOTP_WINDOW; step++) {
    if (timingSafeEqual(Buffer.from(totpCode(secret, step)), given)) matched = step;
  }
  return matched;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding (what authenticator apps expect in `secret=`). */
export function base32Encode(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The `otpauth://totp/…` URL of Google Authenticator's key-URI format, which every authenticator app reads. */
export function otpauthUrl(secret: Uint8Array, issuer: string, account: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = new URLSearchParams({
    secret: base32Encode(secret),
    issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD),
  });
  return `otpauth://totp/${label}?${query.toString()}`;
}
