/**
 * The real password-hashing pool with every call counted — for tests that prove what was (or was
 * not) hashed. Nothing is mocked away: each call still runs argon2id / bcrypt on the worker threads.
 *
 *   vi.mock('../../src/auth/hashing-pool.js', async (importOriginal) =>
 *     (await import('../helpers/counted-hashing.js')).countedHashing(importOriginal, (call) => seen.push(call)));
 */
type HashingModule = typeof import('../../src/auth/hashing-pool.js');
export type HashingCall = 'hash' | 'verifyArgon2' | 'verifyBcrypt';

export async function countedHashing(importOriginal: <T>() => Promise<T>, onCall: (call: HashingCall) => void): Promise<HashingModule> {
  const real = await importOriginal<HashingModule>();
  const pool = real.passwordHashing;
  const counted: typeof pool = {
    ...pool,
    size: pool.size,
    hash: (...args) => {
      onCall('hash');
      return pool.hash(...args);
    },
    verifyArgon2: (...args) => {
      onCall('verifyArgon2');
      return pool.verifyArgon2(...args);
    },
    verifyBcrypt: (...args) => {
      onCall('verifyBcrypt');
      return pool.verifyBcrypt(...args);
    },
  };
  return { ...real, passwordHashing: counted };
}
