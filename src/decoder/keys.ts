/**
 * Turns what a user gives (HMAC secret, PEM, JWK, JWKS) into verification keys with a known
 * family. The family — never the token header — decides which algorithms a key may verify.
 */
import { ALGORITHMS_BY_FAMILY, isJwsAlgorithm, type JwsAlgorithm, type KeyFamily } from './algorithms.js';
import { base64Decode, base64urlDecode } from './base64url.js';
import { spkiFamily, spkiFromCertificate, spkiFromPkcs1Rsa } from './der.js';
import { warning, type Warning } from './warnings.js';

export type SecretEncoding = 'utf8' | 'base64' | 'base64url' | 'hex';

/** What the user supplied. */
export type KeyInput =
  | { type: 'secret'; secret: string; encoding?: SecretEncoding }
  | { type: 'pem'; pem: string }
  | { type: 'jwk'; jwk: unknown }
  | { type: 'jwks'; jwks: unknown };

/** A key ready for verification. */
export interface PreparedKey {
  family: KeyFamily;
  /** Algorithms this key may verify (its family, narrowed by a JWK `alg`). */
  algorithms: JwsAlgorithm[];
  kid?: string;
  material: { format: 'raw'; bytes: Uint8Array } | { format: 'spki'; der: Uint8Array } | { format: 'jwk'; jwk: JsonWebKey };
  /** For HMAC secrets given as text: the text (used only for the common-secret check). */
  secretText?: string;
}

export type KeyErrorCode = 'KEY_EMPTY' | 'KEY_INVALID' | 'KEY_UNSUPPORTED' | 'KEY_IS_PRIVATE';

export type PrepareResult =
  | { ok: true; keys: PreparedKey[]; warnings: Warning[]; skipped: number }
  | { ok: false; code: KeyErrorCode; message: string };

const keyFail = (code: KeyErrorCode, message: string): PrepareResult => ({ ok: false, code, message });

function decodeHex(text: string): Uint8Array | null {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return null;
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function secretBytes(secret: string, encoding: SecretEncoding): Uint8Array | null {
  switch (encoding) {
    case 'utf8':
      return new TextEncoder().encode(secret);
    case 'base64':
      return base64Decode(secret.trim());
    case 'base64url':
      return base64urlDecode(secret.trim().replace(/=+$/, ''));
    case 'hex':
      return decodeHex(secret);
  }
}

function prepareSecret(secret: string, encoding: SecretEncoding): PrepareResult {
  const bytes = secretBytes(secret, encoding);
  if (!bytes) return keyFail('KEY_INVALID', `The secret is not valid ${encoding}.`);
  if (bytes.length === 0) return keyFail('KEY_EMPTY', 'The HMAC secret is empty.');
  const key: PreparedKey = { family: 'hmac', algorithms: [...ALGORITHMS_BY_FAMILY.hmac], material: { format: 'raw', bytes } };
  if (encoding === 'utf8') key.secretText = secret;
  return { ok: true, keys: [key], warnings: [], skipped: 0 };
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;

function preparePem(pem: string): PrepareResult {
  const m = PEM_BLOCK.exec(pem);
  if (!m) return keyFail('KEY_INVALID', 'No PEM block (-----BEGIN …-----) was found.');
  const label = m[1]!;
  if (/PRIVATE KEY/.test(label)) {
    return keyFail('KEY_IS_PRIVATE', 'That is a private key. Verification needs only the public key; never paste private keys.');
  }
  const body = base64Decode(m[2]!.replace(/^[A-Za-z-]+:.*$/gm, ''));
  if (!body || body.length === 0) return keyFail('KEY_INVALID', 'The PEM body is not valid base64.');
  let spki: Uint8Array | null;
  if (label === 'PUBLIC KEY') spki = body;
  else if (label === 'RSA PUBLIC KEY') spki = spkiFromPkcs1Rsa(body);
  else if (label === 'CERTIFICATE') spki = spkiFromCertificate(body);
  else return keyFail('KEY_UNSUPPORTED', `PEM blocks of type "${label.slice(0, 40)}" are not supported; give a PUBLIC KEY or CERTIFICATE.`);
  if (!spki) return keyFail('KEY_INVALID', 'The certificate could not be parsed.');
  const family = spkiFamily(spki);
  if (!family) return keyFail('KEY_UNSUPPORTED', 'The public key is not RSA, EC P-256/P-384/P-521 or Ed25519.');
  return {
    ok: true,
    keys: [{ family, algorithms: [...ALGORITHMS_BY_FAMILY[family]], material: { format: 'spki', der: spki } }],
    warnings: [],
    skipped: 0,
  };
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

type JwkOutcome = { ok: true; key: PreparedKey; private: boolean } | { ok: false; code: KeyErrorCode; message: string };

function prepareOneJwk(value: unknown): JwkOutcome {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'KEY_INVALID', message: 'A JWK must be a JSON object.' };
  }
  const jwk = value as Record<string, unknown>;
  const isPrivate = PRIVATE_MEMBERS.some((k) => k in jwk);
  const str = (k: string): string | undefined => (typeof jwk[k] === 'string' ? (jwk[k] as string) : undefined);
  let family: KeyFamily;
  let material: PreparedKey['material'];
  switch (jwk.kty) {
    case 'oct': {
      const bytes = base64urlDecode(str('k') ?? '');
      if (!bytes || bytes.length === 0) return { ok: false, code: 'KEY_INVALID', message: 'The oct JWK has no valid "k".' };
      family = 'hmac';
      material = { format: 'raw', bytes };
      break;
    }
    case 'RSA': {
      const n = str('n');
      const e = str('e');
      if (!n || !e) return { ok: false, code: 'KEY_INVALID', message: 'The RSA JWK needs "n" and "e".' };
      family = 'rsa';
      material = { format: 'jwk', jwk: { kty: 'RSA', n, e } };
      break;
    }
    case 'EC': {
      const crv = str('crv');
      const x = str('x');
      const y = str('y');
      const fam = crv === 'P-256' ? 'ec-p256' : crv === 'P-384' ? 'ec-p384' : crv === 'P-521' ? 'ec-p521' : undefined;
      if (!fam) return { ok: false, code: 'KEY_UNSUPPORTED', message: 'EC JWKs must use P-256, P-384 or P-521.' };
      if (!x || !y) return { ok: false, code: 'KEY_INVALID', message: 'The EC JWK needs "x" and "y".' };
      family = fam;
      material = { format: 'jwk', jwk: { kty: 'EC', crv: crv!, x, y } };
      break;
    }
    case 'OKP': {
      const x = str('x');
      if (str('crv') !== 'Ed25519') return { ok: false, code: 'KEY_UNSUPPORTED', message: 'OKP JWKs must use Ed25519.' };
      if (!x) return { ok: false, code: 'KEY_INVALID', message: 'The OKP JWK needs "x".' };
      family = 'ed25519';
      material = { format: 'jwk', jwk: { kty: 'OKP', crv: 'Ed25519', x } };
      break;
    }
    default:
      return { ok: false, code: 'KEY_UNSUPPORTED', message: 'The JWK "kty" must be oct, RSA, EC or OKP.' };
  }
  let algorithms = [...ALGORITHMS_BY_FAMILY[family]];
  if (jwk.alg !== undefined) {
    // A JWK that names its algorithm may verify only that one (and never one outside its family).
    algorithms = isJwsAlgorithm(jwk.alg) ? algorithms.filter((a) => a === jwk.alg) : [];
  }
  if (jwk.use !== undefined && jwk.use !== 'sig') algorithms = [];
  const key: PreparedKey = { family, algorithms, material };
  const kid = str('kid');
  if (kid !== undefined) key.kid = kid;
  return { ok: true, key, private: isPrivate };
}

function prepareJwk(jwk: unknown): PrepareResult {
  const r = prepareOneJwk(jwk);
  if (!r.ok) return r;
  const warnings = r.private ? [warning('KEY_PRIVATE', undefined, '/key')] : [];
  return { ok: true, keys: [r.key], warnings, skipped: 0 };
}

function prepareJwks(jwks: unknown): PrepareResult {
  const list = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) return keyFail('KEY_INVALID', 'A JWKS must be an object with a "keys" array.');
  const keys: PreparedKey[] = [];
  let skipped = 0;
  let anyPrivate = false;
  for (const item of list) {
    const r = prepareOneJwk(item);
    if (r.ok) {
      keys.push(r.key);
      anyPrivate ||= r.private;
    } else skipped++;
  }
  if (keys.length === 0) return keyFail('KEY_INVALID', 'The JWKS contains no usable key.');
  return { ok: true, keys, warnings: anyPrivate ? [warning('KEY_PRIVATE', undefined, '/key')] : [], skipped };
}

/** Validates and prepares key input. Never throws. */
export function prepareKeys(input: KeyInput): PrepareResult {
  try {
    switch (input.type) {
      case 'secret':
        return prepareSecret(input.secret, input.encoding ?? 'utf8');
      case 'pem':
        return preparePem(input.pem);
      case 'jwk':
        return prepareJwk(input.jwk);
      case 'jwks':
        return prepareJwks(input.jwks);
    }
  } catch {
    return keyFail('KEY_INVALID', 'The key could not be read.');
  }
  return keyFail('KEY_INVALID', 'Unknown key type.');
}

/**
 * Guesses the kind of a pasted key (the page has one key box): PEM, JWK, JWKS, else an HMAC
 * secret. `null` for empty input.
 */
export function detectKeyInput(text: string, encoding: SecretEncoding = 'utf8'): KeyInput | null {
  if (text.length === 0) return null;
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) return { type: 'pem', pem: t };
  if (t.startsWith('{')) {
    try {
      const parsed = JSON.parse(t) as unknown;
      if (parsed && typeof parsed === 'object' && Array.isArray((parsed as { keys?: unknown }).keys)) return { type: 'jwks', jwks: parsed };
      if (parsed && typeof parsed === 'object' && 'kty' in parsed) return { type: 'jwk', jwk: parsed };
    } catch {
      // not JSON: an HMAC secret that happens to start with '{'
    }
  }
  return { type: 'secret', secret: text, encoding };
}
