/**
 * Password hashing and policy.
 *
 * - argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1) and bcrypt, both run on
 *   low-priority hashing threads, never on the event loop (`hashing-pool.ts`).
 * - bcrypt hashes (`$2a$`, `$2b$`, `$2y$`) of imported users verify, and the caller upgrades
 *   them to argon2id on the next successful login. bcrypt only reads the first 72 bytes of a
 *   password, so a bcrypt hash is only accepted for passwords of at most 72 UTF-8 bytes:
 *   a longer password that shares the first 72 bytes must not get in.
 * - Policy (NIST SP 800-63B): 8–256 code points after NFC normalisation, no composition
 *   rules, never truncated.
 */
import { ApiError } from '../errors.js';
import { passwordHashing } from './hashing-pool.js';

const PASSWORD_MIN_LENGTH = 8;
const PASSWORD_MAX_LENGTH = 256;

const BCRYPT_PREFIX = /^\$2[aby]\$\d\d\$/;
const BCRYPT_MAX_BYTES = 72;

/** NFC-normalises a password; the form we hash and compare. */
export function normalizePassword(password: string): string {
  return password.normalize('NFC');
}

/** Length in code points (not UTF-16 units) of the normalised password. */
function passwordLength(password: string): number {
  let count = 0;
  for (const _ of password) count++;
  return count;
}

/** True when the length is outside 8–256 code points: such a password is never hashed. */
export function isPasswordLengthInvalid(normalized: string): boolean {
  // Cheap upper bound first: a 1 MB string must not be walked code point by code point.
  if (normalized.length > PASSWORD_MAX_LENGTH * 2) return true;
  const length = passwordLength(normalized);
  return length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH;
}

/** A password check that can be extended (e.g. a list of common passwords). */
export type PasswordRule = (normalized: string) => string | undefined;

/**
 * Throws `WEAK_PASSWORD` (422) when the password breaks the policy; returns the
 * normalised password otherwise.
 */
export function assertPasswordPolicy(password: string, rules: readonly PasswordRule[] = []): string {
  const normalized = normalizePassword(password);
  if (isPasswordLengthInvalid(normalized)) {
    throw new ApiError('WEAK_PASSWORD', `Passwords must be ${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters long.`);
  }
  for (const rule of rules) {
    const problem = rule(normalized);
    if (problem) throw new ApiError('WEAK_PASSWORD', problem);
  }
  return normalized;
}

export function hashPassword(normalized: string): Promise<string> {
  return passwordHashing.hash(normalized);
}

/**
 * The stored "hash" of an account without a password (created by an external identity
 * provider, docs/oidc.md): no password matches it.
 */
const NO_PASSWORD = '';

/**
 * Verifies against an argon2id or bcrypt hash. Never throws for a wrong password or a malformed
 * hash. An account without a password ({@link NO_PASSWORD}) costs one real verification of a
 * dummy hash and fails, exactly like a wrong password: a login cannot tell it apart.
 */
export async function verifyPassword(storedHash: string, normalized: string): Promise<boolean> {
  if (storedHash === NO_PASSWORD) {
    await verifyPassword(DUMMY_HASH, normalized);
    return false;
  }
  try {
    if (BCRYPT_PREFIX.test(storedHash)) {
      if (Buffer.byteLength(normalized, 'utf8') > BCRYPT_MAX_BYTES) return false;
      return await passwordHashing.verifyBcrypt(storedHash, normalized);
    }
    return await passwordHashing.verifyArgon2(storedHash, normalized);
  } catch {
    return false;
  }
}

/** True when a stored hash should be replaced by a fresh argon2id hash after a successful login. */
export function needsRehash(storedHash: string): boolean {
  return !storedHash.startsWith('$argon2id$v=19$m=19456,t=2,p=1$');
}

/**
 * An argon2id hash (same parameters as real ones) of a random password nobody knows. Fixed
 * in the source so that even the first unknown-user login of a process costs exactly one
 * verification, like a wrong password does.
 */
const DUMMY_HASH = '$argon2id$v=19$m=19456,t=2,p=1$2SS35/qRqow97ej8g+ylPA$olCquGHBNoJwjHx2ehUgrlaieHA0w+Z8JzGnUxkihvw';

/**
 * Runs one real argon2id verification against a fixed hash, so that a login for an
 * unknown e-mail costs the same as one with a wrong password.
 */
export async function dummyVerify(normalized: string): Promise<void> {
  await verifyPassword(DUMMY_HASH, normalized);
}
