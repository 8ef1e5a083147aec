/**
 * DPoP proofs (RFC 9449 §4.2) made with WebCrypto: an ES256 JWS whose header carries the
 * public key and whose claims name the request (`htm`, `htu`), the time (`iat`), a random
 * `jti`, and — for resource requests — the hash of the access token (`ath`) and the server's
 * nonce when it asked for one. Browser code: Web APIs only.
 */

/** A proof key: the private half never leaves WebCrypto; the public half as a JWK. */
export interface DpopKey {
  privateKey: CryptoKey;
  publicJwk: { kty: string; crv: string; x: string; y: string };
}

const encoder = new TextEncoder();

function base64url(bytes: ArrayBuffer | Uint8Array): string {
  let binary = '';
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const encodeJson = (value: unknown): string => base64url(encoder.encode(JSON.stringify(value)));

/** base64url(SHA-256(accessToken)): a proof's `ath`. */
export async function accessTokenHash(accessToken: string): Promise<string> {
  return base64url(await crypto.subtle.digest('SHA-256', encoder.encode(accessToken)));
}

/** What a proof says about its request. */
export interface ProofClaims {
  htm: string;
  /** Absolute URI without query and fragment. */
  htu: string;
  /** Seconds since the epoch, on the server's clock as far as the client knows it. */
  iat: number;
  ath?: string | undefined;
  nonce?: string | undefined;
}

/** Signs a proof with `key` (ECDSA P-256 with SHA-256; WebCrypto's signature is already JOSE's r ‖ s). */
export async function createProof(key: DpopKey, claims: ProofClaims): Promise<string> {
  const { kty, crv, x, y } = key.publicJwk;
  const header = encodeJson({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } });
  const payload = encodeJson({ jti: base64url(crypto.getRandomValues(new Uint8Array(16))), ...claims, iat: Math.floor(claims.iat) });
  const input = `${header}.${payload}`;
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, encoder.encode(input));
  return `${input}.${base64url(signature)}`;
}

/** A new non-extractable P-256 key (the public half is always exportable in WebCrypto). */
export async function generateDpopKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}

/** The key pair with its public JWK. */
export async function toDpopKey(pair: CryptoKeyPair): Promise<DpopKey> {
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  return { privateKey: pair.privateKey, publicJwk: { kty: kty as string, crv: crv as string, x: x as string, y: y as string } };
}
