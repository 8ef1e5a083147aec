/**
 * The master secret (`LATCHKEY_SECRET`) and the purpose-bound keys derived from it.
 *
 * The master secret never touches the database. Keys are derived from it with
 * HKDF-SHA256 (salt `latchkey/v1`), one per purpose, so that a leak of one use cannot be
 * replayed in another:
 * - `refreshMac` (info `refresh-token-mac`): HMAC key of refresh tokens (a database dump
 *   cannot mint one);
 * - `keyEncryption` (info `signing-key-encryption`): AES-256-GCM key sealing signing private
 *   keys at rest;
 * - `rateLimitAccount` (info `rate-limit-account-key`): HMAC key that turns an e-mail address
 *   into a counter name (`src/auth/rate-limit.ts`), so no address reaches Redis. The same value
 *   the rate limiter derived itself before it moved here: counters in Redis carry over.
 * - `linkMac` (info `link-token-mac`): HMAC key of the tokens in reset and verification links;
 * - `mailSeal` (info `mail-seal`): AES-256-GCM key sealing queued mails at rest;
 * - `dpopNonce` (info `dpop-nonce`): HMAC key of the server's DPoP nonces, so every instance
 *   sharing the secret accepts every other's (docs/dpop.md#server-nonces);
 * - `mfaSeal` (info `mfa-seal`): AES-256-GCM key sealing TOTP secrets at rest (docs/mfa.md);
 * - `mfaMac` (info `mfa-mac`): HMAC key of recovery codes and of the tokens of a login's second
 *   step (stored only as this MAC);
 * - `oauthFlowSeal` (info `oauth-flow-seal`): AES-256-GCM key sealing the flow cookie of a
 *   sign-in with an identity provider (state, nonce, PKCE verifier; docs/oidc.md).
 * `test/keys/derived-keys.test.ts` pins each derivation.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../errors.js';
import { decodeSecret } from '../config/config.js';

export interface DerivedKeys {
  refreshMac: Buffer;
  keyEncryption: Buffer;
  rateLimitAccount: Buffer;
  /** HMAC key of the tokens in reset and verification links (stored only as this MAC). */
  linkMac: Buffer;
  /** AES-256-GCM key sealing queued mails (they carry links) at rest. */
  mailSeal: Buffer;
  /** HMAC key of the server's DPoP nonces (`dpop/nonce.ts`). */
  dpopNonce: Buffer;
  /** AES-256-GCM key sealing TOTP secrets at rest. */
  mfaSeal: Buffer;
  /** HMAC key of recovery codes and mfa tokens (stored only as this MAC). */
  mfaMac: Buffer;
  /** AES-256-GCM key sealing the flow cookie of provider sign-ins (`oauth/flow-cookie.ts`). */
  oauthFlowSeal: Buffer;
}

const SALT = Buffer.from('latchkey/v1');

export function deriveKeys(masterSecret: Uint8Array): DerivedKeys {
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', masterSecret, SALT, info, 32));
  return {
    refreshMac: derive('refresh-token-mac'),
    keyEncryption: derive('signing-key-encryption'),
    rateLimitAccount: derive('rate-limit-account-key'),
    linkMac: derive('link-token-mac'),
    mailSeal: derive('mail-seal'),
    dpopNonce: derive('dpop-nonce'),
    mfaSeal: derive('mfa-seal'),
    mfaMac: derive('mfa-mac'),
    oauthFlowSeal: derive('oauth-flow-seal'),
  };
}

/**
 * Reads the generated master secret at `path`, or creates it (32 random bytes, base64url,
 * file mode 0600) when absent. Used only when `LATCHKEY_SECRET` is not set (SQLite).
 */
export async function loadOrCreateSecretFile(path: string): Promise<Uint8Array> {
  try {
    const text = await readFile(path, 'utf8');
    return decodeSecret(text.trim(), `secret file ${path}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError('LATCHKEY_SECRET', `cannot read the secret file ${path}`);
    }
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const secret = randomBytes(32);
  try {
    // `wx`: never overwrite a secret another process created a moment ago.
    await writeFile(path, `${secret.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600);
    return new Uint8Array(secret);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateSecretFile(path);
    throw new ConfigError('LATCHKEY_SECRET', `cannot write the secret file ${path}`);
  }
}

/** Where the generated secret lives for a `sqlite:<path>` database: next to the database file. */
export function secretFileFor(databaseUrl: string): string {
  const file = databaseUrl.slice('sqlite:'.length);
  const dir = file === ':memory:' || file === '' ? './data' : dirname(file);
  return `${dir}/secret`;
}
