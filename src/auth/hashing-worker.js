// @ts-check
/**
 * A password-hashing thread (see hashing-pool.ts). Plain JavaScript so that the same file runs
 * from the sources (tests) and from dist/: Node starts it as it is.
 *
 * The thread first lowers its own scheduling priority (Linux: nice 19 for this thread only),
 * so that hashing takes whatever CPU the event loop leaves and never the other way round.
 * Then it answers {id, op, password, hash} messages with {id, value} or {id, error}.
 */
import { parentPort } from 'node:worker_threads';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { hashSync, verifySync, Algorithm } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';

const ARGON2_OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** This thread's kernel id (Linux: /proc/thread-self → "<pid>/task/<tid>"), or undefined. */
function ownThreadId() {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * nice 19 for this thread only (Linux: setpriority() on a tid affects that thread); `false`
 * where the platform has no per-thread priority.
 * @param {number | undefined} tid
 */
function lowerPriority(tid) {
  if (tid === undefined) return false;
  try {
    setPriority(tid, 19);
    return true;
  } catch {
    return false;
  }
}

/** @param {{ op: string, password: string, hash?: string }} job */
function run(job) {
  switch (job.op) {
    case 'hash':
      return hashSync(job.password, ARGON2_OPTIONS);
    case 'verify-argon2':
      return verifySync(String(job.hash), job.password);
    case 'verify-bcrypt':
      return bcrypt.compareSync(job.password, String(job.hash));
    default:
      throw new Error('unknown hashing operation');
  }
}

const port = parentPort;
if (port) {
  const tid = ownThreadId();
  port.postMessage({ ready: true, tid, lowered: lowerPriority(tid) });
  port.on('message', (/** @type {{ id: number, op: string, password: string, hash?: string }} */ job) => {
    try {
      port.postMessage({ id: job.id, value: run(job) });
    } catch (error) {
      // Never the password or the hash: only the library's error code or name.
      const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : 'HASHING_FAILED';
      port.postMessage({ id: job.id, error: code });
    }
  });
}
