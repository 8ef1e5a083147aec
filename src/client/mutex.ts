/**
 * Cross-tab mutual exclusion around refresh and logout, so that only one tab of an origin
 * talks to `/auth/refresh` at a time.
 *
 * - With Web Locks (`navigator.locks`) the browser arbitrates: exact, and a closed tab's lock
 *   is released by the browser.
 * - Without them, a best-effort protocol over the tab channel: wait until no sibling claims,
 *   wait a random moment, claim, listen briefly for a rival claim (the lower tab id wins).
 *   Should two tabs still overlap, the server's refresh grace window
 *   (docs/http-api.md#rotation-and-the-grace-window) gives both the same working session: the cost is one extra refresh, never a sign-out.
 *
 * Both forms also serialise callers within the tab.
 */
import type { TabChannel } from './tab-channel.js';

export interface Mutex {
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** Serialises tasks within this tab only. */
export function localMutex(): Mutex {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const result = tail.then(task, task);
      tail = result.catch(() => undefined);
      return result;
    },
  };
}

/** The browser's Web Locks: one holder of `name` across every tab of the origin. */
export function webLocksMutex(locks: LockManager, name: string): Mutex {
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      return locks.request(name, () => task()) as Promise<T>; // exclusive is the default mode
    },
  };
}

export interface ChannelMutexOptions {
  random: () => number;
  /** How long a claim lasts if its tab vanishes without releasing it. */
  claimTtlMs: number;
  /** How long to listen for a rival claim after claiming. */
  settleMs?: number;
  /** Upper bound of the random pause before claiming. */
  jitterMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The fallback where Web Locks are missing (see the file comment). */
export function channelMutex(channel: TabChannel, options: ChannelMutexOptions): Mutex {
  const local = localMutex();
  const settleMs = options.settleMs ?? 40;
  const jitterMs = options.jitterMs ?? 30;

  async function acquire(): Promise<void> {
    for (;;) {
      await channel.whenUnclaimed();
      await sleep(Math.floor(options.random() * jitterMs));
      if (channel.activeClaims().length > 0) continue;
      channel.claim(options.claimTtlMs);
      await sleep(settleMs);
      if (channel.activeClaims().some((rival) => rival < channel.id)) {
        channel.release();
        continue;
      }
      return;
    }
  }

  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      return local.run(async () => {
        await acquire();
        try {
          return await task();
        } finally {
          channel.release();
        }
      });
    },
  };
}
