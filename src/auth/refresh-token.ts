/**
 * Refresh tokens: `base64url(sessionId[16] ‖ counter[u32 BE] ‖ HMAC-SHA256(K, sessionId ‖ counter))`.
 *
 * The server stores only the session id and the current counter; the MAC key is derived
 * from the master secret, which never reaches the database. Someone who reads the
 * database (or the logs) cannot present a valid token. The MAC is checked in constant
 * time before any database work, so junk costs one HMAC.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const ID_BYTES = 16;
const COUNTER_BYTES = 4;
const MAC_BYTES = 32;
const TOKEN_BYTES = ID_BYTES + COUNTER_BYTES + MAC_BYTES;
/** base64url length of {@link TOKEN_BYTES} bytes, without padding. */
const TOKEN_LENGTH = Math.ceil((TOKEN_BYTES * 4) / 3);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface RefreshTokenClaims {
  sessionId: string;
  counter: number;
}

function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function bytesToUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function mac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

export function encodeRefreshToken(key: Buffer, { sessionId, counter }: RefreshTokenClaims): string {
  if (!UUID.test(sessionId)) throw new TypeError('session id must be a lower-case UUID');
  if (!Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) throw new RangeError('counter out of range');
  const body = Buffer.alloc(ID_BYTES + COUNTER_BYTES);
  uuidToBytes(sessionId).copy(body, 0);
  body.writeUInt32BE(counter, ID_BYTES);
  return Buffer.concat([body, mac(key, body)]).toString('base64url');
}

/** Returns the claims of an authentic token, `undefined` for anything else. Never throws. */
export function decodeRefreshToken(key: Buffer, token: unknown): RefreshTokenClaims | undefined {
  if (typeof token !== 'string' || token.length !== TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const raw = Buffer.from(token, 'base64url');
  // Reject non-canonical encodings (different text, same bytes).
  if (raw.length !== TOKEN_BYTES || raw.toString('base64url') !== token) return undefined;
  const body = raw.subarray(0, ID_BYTES + COUNTER_BYTES);
  if (!timingSafeEqual(raw.subarray(ID_BYTES + COUNTER_BYTES), mac(key, body))) return undefined;
  return { sessionId: bytesToUuid(body.subarray(0, ID_BYTES)), counter: body.readUInt32BE(ID_BYTES) };
}
