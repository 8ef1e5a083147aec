/** Just enough DER to find the SubjectPublicKeyInfo in a PEM key or certificate. */
import { toHex } from './base64url.js';

interface Tlv {
  tag: number;
  /** Offset of the contents. */
  start: number;
  /** Offset just past the contents. */
  end: number;
  /** Offset of the tag byte. */
  offset: number;
}

function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv | null {
  if (offset + 2 > limit) return null;
  const tag = der[offset]!;
  let len = der[offset + 1]!;
  let start = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > limit) return null;
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + der[start + k]!;
    start += n;
  }
  const end = start + len;
  if (end > limit) return null;
  return { tag, start, end, offset };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] | null {
  const out: Tlv[] = [];
  let at = parent.start;
  while (at < parent.end) {
    const t = readTlv(der, at, parent.end);
    if (!t) return null;
    out.push(t);
    at = t.end;
  }
  return out;
}

const OIDS: Record<string, 'rsa' | 'rsa-pss' | 'ec' | 'ed25519'> = {
  '2a864886f70d010101': 'rsa',
  '2a864886f70d01010a': 'rsa-pss',
  '2a8648ce3d0201': 'ec',
  '2b6570': 'ed25519',
};
const CURVES: Record<string, 'ec-p256' | 'ec-p384' | 'ec-p521'> = {
  '2a8648ce3d030107': 'ec-p256',
  '2b81040022': 'ec-p384',
  '2b81040023': 'ec-p521',
};

export type SpkiFamily = 'rsa' | 'ec-p256' | 'ec-p384' | 'ec-p521' | 'ed25519';

/** Key family of an SPKI, or null when unsupported or unparsable. */
export function spkiFamily(spki: Uint8Array): SpkiFamily | null {
  const outer = readTlv(spki, 0);
  if (outer?.tag !== 0x30 || outer.end !== spki.length) return null;
  const parts = children(spki, outer);
  const algId = parts?.[0];
  if (algId?.tag !== 0x30) return null;
  const ids = children(spki, algId);
  const oid = ids?.[0];
  if (oid?.tag !== 0x06) return null;
  const kind = OIDS[toHex(spki.subarray(oid.start, oid.end))];
  if (kind === 'rsa' || kind === 'rsa-pss') return 'rsa';
  if (kind === 'ed25519') return 'ed25519';
  if (kind === 'ec') {
    const curve = ids?.[1];
    if (curve?.tag !== 0x06) return null;
    return CURVES[toHex(spki.subarray(curve.start, curve.end))] ?? null;
  }
  return null;
}

/** The SubjectPublicKeyInfo bytes of an X.509 certificate (DER), or null. */
export function spkiFromCertificate(cert: Uint8Array): Uint8Array | null {
  const outer = readTlv(cert, 0);
  if (outer?.tag !== 0x30) return null;
  const tbs = children(cert, outer)?.[0];
  if (tbs?.tag !== 0x30) return null;
  const fields = children(cert, tbs);
  if (!fields) return null;
  const skip = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  const spki = fields[skip + 5];
  if (spki?.tag !== 0x30) return null;
  return cert.slice(spki.offset, spki.end);
}

function encodeLength(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, contents: Uint8Array): Uint8Array {
  const head = [tag, ...encodeLength(contents.length)];
  const out = new Uint8Array(head.length + contents.length);
  out.set(head, 0);
  out.set(contents, head.length);
  return out;
}

/** Wraps a PKCS#1 RSAPublicKey (`BEGIN RSA PUBLIC KEY`) into an SPKI. */
export function spkiFromPkcs1Rsa(pkcs1: Uint8Array): Uint8Array {
  const algId = Uint8Array.from([0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
  const bits = new Uint8Array(pkcs1.length + 1);
  bits.set(pkcs1, 1);
  const bitString = tlv(0x03, bits);
  const body = new Uint8Array(algId.length + bitString.length);
  body.set(algId, 0);
  body.set(bitString, algId.length);
  return tlv(0x30, body);
}
