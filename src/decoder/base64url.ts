/**
 * Strict base64url (RFC 4648 §5, no padding) and base64 helpers on `Uint8Array`.
 * Web APIs only: usable in the browser page and in Node.
 */

const URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const STD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function table(alphabet: string): Int16Array {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}
const URL_TABLE = table(URL_ALPHABET);
const STD_TABLE = table(STD_ALPHABET);

function decodeWith(input: string, lookup: Int16Array): Uint8Array | null {
  const n = input.length;
  if (n % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((n * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = input.charCodeAt(i);
    const v = c < 128 ? (lookup[c] ?? -1) : -1;
    if (v < 0) return null;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Non-canonical encodings (leftover bits set) are rejected, as jose does.
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) return null;
  return out.subarray(0, o);
}

/** Decodes unpadded base64url; `null` for any character outside the alphabet or a bad length. */
export function base64urlDecode(input: string): Uint8Array | null {
  return decodeWith(input, URL_TABLE);
}

/** Decodes standard base64 (padding and whitespace allowed), as found in PEM and `x5c`. */
export function base64Decode(input: string): Uint8Array | null {
  const clean = input.replace(/\s+/g, '').replace(/=+$/, '');
  return decodeWith(clean, STD_TABLE);
}

/** Encodes bytes as unpadded base64url. */
export function base64urlEncode(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += URL_ALPHABET[(n >> 18) & 63]! + URL_ALPHABET[(n >> 12) & 63]! + URL_ALPHABET[(n >> 6) & 63]! + URL_ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += URL_ALPHABET[(n >> 18) & 63]! + URL_ALPHABET[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += URL_ALPHABET[(n >> 18) & 63]! + URL_ALPHABET[(n >> 12) & 63]! + URL_ALPHABET[(n >> 6) & 63]!;
  }
  return out;
}

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
