/**
 * AES-256-GCM sealing of private keys at rest. The key id is bound as associated data,
 * so a sealed blob cannot be moved to another row.
 * Format: `v1.<iv base64url>.<ciphertext base64url>.<tag base64url>`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { LatchkeyError } from '../errors.js';

export function seal(key: Buffer, plaintext: Buffer, associatedData: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return ['v1', iv, ciphertext, cipher.getAuthTag()].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

export function unseal(key: Buffer, sealed: string, associatedData: string): Buffer {
  const [version, iv, ciphertext, tag] = sealed.split('.');
  if (version !== 'v1' || !iv || ciphertext === undefined || !tag) {
    throw new LatchkeyError('KEY_UNSEAL_FAILED', 'Sealed key has an unknown format.');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  } catch (cause) {
    throw new LatchkeyError('KEY_UNSEAL_FAILED', 'A signing key could not be decrypted: LATCHKEY_SECRET differs from the one that sealed it.', {
      cause,
    });
  }
}
