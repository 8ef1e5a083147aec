/**
 * JWK thumbprints (RFC 7638) with SHA-256: the `jkt` a DPoP-bound token or session names.
 * Only the required members of each key type are hashed, in lexicographic order, with no
 * whitespace — so two JWKs of one key (with or without `kid`, `alg`, `use`) have one thumbprint.
 */
import { createHash } from 'node:crypto';

/** The members of a public JWK that RFC 7638 §3.2 hashes, per key type. */
export interface ThumbprintMembers {
  kty: 'EC' | 'OKP' | 'RSA';
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
}

/**
 * base64url(SHA-256(canonical JSON of the required members)). The members must already be
 * checked strings (a JWK that passed import); `JSON.stringify` gives the RFC 8259 escaping
 * RFC 7638 asks for.
 */
export function jwkThumbprint(jwk: ThumbprintMembers): string {
  let canonical: string;
  if (jwk.kty === 'EC') canonical = `{"crv":${JSON.stringify(jwk.crv)},"kty":"EC","x":${JSON.stringify(jwk.x)},"y":${JSON.stringify(jwk.y)}}`;
  else if (jwk.kty === 'OKP') canonical = `{"crv":${JSON.stringify(jwk.crv)},"kty":"OKP","x":${JSON.stringify(jwk.x)}}`;
  else canonical = `{"e":${JSON.stringify(jwk.e)},"kty":"RSA","n":${JSON.stringify(jwk.n)}}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}
