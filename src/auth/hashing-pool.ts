/**
 * Password hashing on dedicated low-priority threads.
 *
 * argon2id is built to take a whole core per hash. On the event loop it would stall every
 * request; on libuv's shared pool at normal priority a login flood competes with the event
 * loop for the cores and token verification on protected routes slows down (bench/RESULTS.md:
 * p99 ×5 on two cores). So hashes run here:
 *
 * - one worker thread per core (`availableParallelism()`), started on first use, each running
 *   argon2id (`@node-rs/argon2`) and bcrypt (`bcryptjs`) synchronously, one job at a time;
 * - each thread lowers its own priority to nice 19 (Linux, per thread), so the kernel gives the
 *   event loop the CPU whenever it wants it and hashing gets everything else: a flood uses every
 *   idle cycle for logins without delaying verification;
 * - jobs wait in one FIFO queue; rate limits bound how long it can get;
 * - a thread idle for `idleMs` (default 10 s) stops, handing its memory (argon2id's 19 MiB
 *   blocks and the thread's heap) back, so an idle server stays small; the next login starts it
 *   again (~30 ms).
 *
 * Passwords cross to the threads by message (in-process memory) and never appear in errors.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';

export interface HashingPool {
  /** Threads the pool may start (one per core by default). */
  readonly size: number;
  /** argon2id hash (OWASP parameters) of a normalised password. */
  hash(password: string): Promise<string>;
  /** Verifies against an argon2 hash; rejects on a malformed hash. */
  verifyArgon2(hash: string, password: string): Promise<boolean>;
  /** Verifies against a bcrypt hash; the caller enforces bcrypt's 72-byte limit. */
  verifyBcrypt(hash: string, password: string): Promise<boolean>;
  /** Running threads: thread id and whether it runs at lowered priority. For tests and metrics. */
  threads(): ReadonlyArray<{ threadId: number; osThreadId: number | undefined; lowered: boolean }>;
  /** Stops every thread; pending jobs reject. The pool starts threads again on the next job. */
  close(): Promise<void>;
}

type Op = 'hash' | 'verify-argon2' | 'verify-bcrypt';

interface Job {
  op: Op;
  password: string;
  hash?: string;
  resolve(value: string | boolean): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  lowered: boolean;
  osThreadId: number | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

const WORKER_URL = new URL('./hashing-worker.js', import.meta.url);

class HashingError extends Error {
  override name = 'HashingError';
}

export function createHashingPool(options: { size?: number; idleMs?: number } = {}): HashingPool {
  const size = options.size ?? availableParallelism();
  if (!Number.isInteger(size) || size < 1) throw new RangeError('size must be a positive integer');
  const idleMs = options.idleMs ?? 10_000;
  if (!Number.isFinite(idleMs) || idleMs < 0) throw new RangeError('idleMs must be a non-negative number');
  const slots = new Set<Slot>();
  const queue: Job[] = [];
  let nextId = 1;

  function start(): Slot {
    // No inherited flags: the worker is plain JavaScript, and a host's flags (loaders,
    // --input-type) are not meant for it.
    const worker = new Worker(WORKER_URL, { execArgv: [] });
    const slot: Slot = { worker, job: undefined, lowered: false, osThreadId: undefined, idleTimer: undefined };
    worker.unref();
    worker.on('message', (message: { ready?: boolean; lowered?: boolean; tid?: number; id?: number; value?: string | boolean; error?: string }) => {
      if (message.ready) {
        slot.lowered = message.lowered === true;
        slot.osThreadId = message.tid;
        return;
      }
      const job = slot.job;
      if (job === undefined || message.id === undefined) return;
      slot.job = undefined;
      worker.unref();
      if (message.error !== undefined) job.reject(new HashingError(`password hashing failed (${message.error})`));
      else job.resolve(message.value as string | boolean);
      dispatch();
      if (slot.job === undefined) retireWhenIdle(slot);
    });
    const lost = (error: Error) => {
      if (!slots.delete(slot)) return;
      const job = slot.job;
      slot.job = undefined;
      job?.reject(new HashingError(`the hashing thread stopped (${error.name})`));
      dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', () => lost(new HashingError('exit')));
    slots.add(slot);
    return slot;
  }

  function retireWhenIdle(slot: Slot): void {
    slot.idleTimer = setTimeout(() => {
      if (slot.job !== undefined || !slots.delete(slot)) return;
      void slot.worker.terminate();
    }, idleMs);
    slot.idleTimer.unref();
  }

  function idleSlot(): Slot | undefined {
    for (const slot of slots) if (slot.job === undefined) return slot;
    return slots.size < size ? start() : undefined;
  }

  function dispatch(): void {
    while (queue.length > 0) {
      const slot = idleSlot();
      if (slot === undefined) return;
      const job = queue.shift() as Job;
      const id = nextId++;
      slot.job = job;
      clearTimeout(slot.idleTimer);
      slot.worker.ref(); // a pending job keeps the process alive (e.g. `latchkey user create`)
      slot.worker.postMessage({ id, op: job.op, password: job.password, hash: job.hash });
    }
  }

  function submit<T extends string | boolean>(op: Op, password: string, hash?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ op, password, ...(hash === undefined ? {} : { hash }), resolve: resolve as Job['resolve'], reject });
      dispatch();
    });
  }

  return {
    size,
    hash: (password) => submit<string>('hash', password),
    verifyArgon2: (hash, password) => submit<boolean>('verify-argon2', password, hash),
    verifyBcrypt: (hash, password) => submit<boolean>('verify-bcrypt', password, hash),
    threads: () => [...slots].map((s) => ({ threadId: s.worker.threadId, osThreadId: s.osThreadId, lowered: s.lowered })),
    async close() {
      const stopping = [...slots].map((s) => s.worker.terminate());
      for (const job of queue.splice(0)) job.reject(new HashingError('the hashing pool was closed'));
      await Promise.all(stopping);
    },
  };
}

/** The process-wide pool every password hash and verification goes through. */
export const passwordHashing: HashingPool = createHashingPool();
