/**
 * The password-hashing threads: real argon2id and bcrypt on worker threads at lowered priority,
 * bounded to the pool size, FIFO, and failures that name no secret.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { getPriority } from 'node:os';
import bcrypt from 'bcryptjs';
import { createHashingPool } from '../../src/auth/hashing-pool.js';

const pool = createHashingPool({ size: 2 });
afterAll(() => pool.close());

describe('hashing pool', () => {
  it('hashes with argon2id (OWASP parameters) and verifies argon2 and bcrypt hashes', async () => {
    const hash = await pool.hash('correct horse battery');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await pool.verifyArgon2(hash, 'correct horse battery')).toBe(true);
    expect(await pool.verifyArgon2(hash, 'correct horse batterz')).toBe(false);
    const legacy = bcrypt.hashSync('old password', 4);
    expect(await pool.verifyBcrypt(legacy, 'old password')).toBe(true);
    expect(await pool.verifyBcrypt(legacy, 'old passwort')).toBe(false);
  });

  it('runs at most `size` threads, all of them at nice 19 on Linux', async () => {
    await Promise.all(Array.from({ length: 6 }, (_, i) => pool.hash(`password number ${i}`)));
    const threads = pool.threads();
    expect(threads).toHaveLength(2);
    if (process.platform === 'linux') {
      for (const t of threads) {
        expect(t.lowered).toBe(true);
        expect(getPriority(t.osThreadId!)).toBe(19);
      }
      expect(getPriority()).toBe(0); // the event loop's own thread keeps its priority
    }
  });

  it('a malformed hash rejects with a coded error that contains neither password nor hash', async () => {
    const error = await pool.verifyArgon2('$argon2id$not-a-hash', 'secret password 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).not.toMatch(/secret password|not-a-hash/);
    // The thread survives the failure.
    expect(await pool.verifyArgon2(await pool.hash('still working'), 'still working')).toBe(true);
  });

  it('close() stops the threads; the next job starts them again', async () => {
    const own = createHashingPool({ size: 1 });
    expect(await own.verifyBcrypt(bcrypt.hashSync('x'.repeat(8), 4), 'x'.repeat(8))).toBe(true);
    await own.close();
    expect(own.threads()).toHaveLength(0);
    expect(await own.verifyBcrypt(bcrypt.hashSync('y'.repeat(8), 4), 'y'.repeat(8))).toBe(true);
    await own.close();
  });

  it('an idle thread stops after idleMs; the next job starts one again', async () => {
    const own = createHashingPool({ size: 1, idleMs: 50 });
    expect(await own.verifyBcrypt(bcrypt.hashSync('z'.repeat(8), 4), 'z'.repeat(8))).toBe(true);
    expect(own.threads()).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(own.threads()).toHaveLength(0);
    expect(await own.verifyBcrypt(bcrypt.hashSync('w'.repeat(8), 4), 'w'.repeat(8))).toBe(true);
    await own.close();
  });

  it('refuses a size below one', () => {
    expect(() => createHashingPool({ size: 0 })).toThrow(RangeError);
  });
});
