/** JWS algorithms (RFC 7518 §3, RFC 8037, RFC 9864) the decoder can verify, and their WebCrypto parameters. */

export type JwsAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519';

export const JWS_ALGORITHMS: readonly JwsAlgorithm[] = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** Algorithms of RFC 7518 §4 / §5 that appear in JWE headers. */
export const JWE_ALGORITHMS: readonly string[] = [
  'RSA1_5',
  'RSA-OAEP',
  'RSA-OAEP-256',
  'RSA-OAEP-384',
  'RSA-OAEP-512',
  'A128KW',
  'A192KW',
  'A256KW',
  'dir',
  'ECDH-ES',
  'ECDH-ES+A128KW',
  'ECDH-ES+A192KW',
  'ECDH-ES+A256KW',
  'A128GCMKW',
  'A192GCMKW',
  'A256GCMKW',
  'PBES2-HS256+A128KW',
  'PBES2-HS384+A192KW',
  'PBES2-HS512+A256KW',
];

export function isJwsAlgorithm(alg: unknown): alg is JwsAlgorithm {
  return typeof alg === 'string' && (JWS_ALGORITHMS as readonly string[]).includes(alg);
}

export type KeyFamily = 'hmac' | 'rsa' | 'ec-p256' | 'ec-p384' | 'ec-p521' | 'ed25519';

/** Which algorithms a key of each family may verify. A key never verifies outside its family. */
export const ALGORITHMS_BY_FAMILY: Record<KeyFamily, readonly JwsAlgorithm[]> = {
  hmac: ['HS256', 'HS384', 'HS512'],
  rsa: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'ec-p256': ['ES256'],
  'ec-p384': ['ES384'],
  'ec-p521': ['ES512'],
  ed25519: ['EdDSA', 'Ed25519'],
};

const HASH: Record<string, 'SHA-256' | 'SHA-384' | 'SHA-512'> = { '256': 'SHA-256', '384': 'SHA-384', '512': 'SHA-512' };

export function hashOf(alg: JwsAlgorithm): 'SHA-256' | 'SHA-384' | 'SHA-512' {
  return HASH[alg.slice(2)] ?? 'SHA-256';
}

/** HMAC output length in bytes: RFC 7518 §3.2 asks for a key at least this long. */
export function hmacMinKeyBytes(alg: JwsAlgorithm): number {
  return Number(alg.slice(2)) / 8;
}

/** WebCrypto import parameters for a key family used with `alg`. */
export function importParams(family: KeyFamily, alg: JwsAlgorithm): RsaHashedImportParams | EcKeyImportParams | HmacImportParams | Algorithm {
  switch (family) {
    case 'hmac':
      return { name: 'HMAC', hash: hashOf(alg) };
    case 'rsa':
      return { name: alg.startsWith('PS') ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash: hashOf(alg) };
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ec-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' };
    case 'ec-p521':
      return { name: 'ECDSA', namedCurve: 'P-521' };
    case 'ed25519':
      return { name: 'Ed25519' };
  }
}

/** WebCrypto verify parameters for `alg`. */
export function verifyParams(alg: JwsAlgorithm): AlgorithmIdentifier | RsaPssParams | EcdsaParams {
  if (alg.startsWith('HS')) return { name: 'HMAC' };
  if (alg.startsWith('RS')) return { name: 'RSASSA-PKCS1-v1_5' };
  if (alg.startsWith('PS')) return { name: 'RSA-PSS', saltLength: Number(alg.slice(2)) / 8 };
  if (alg.startsWith('ES')) return { name: 'ECDSA', hash: hashOf(alg) };
  return { name: 'Ed25519' };
}

/** Raw ECDSA signature length (r || s) for `alg`, as JWS requires (RFC 7518 §3.4). */
export function ecSignatureLength(alg: JwsAlgorithm): number | undefined {
  return alg === 'ES256' ? 64 : alg === 'ES384' ? 96 : alg === 'ES512' ? 132 : undefined;
}
