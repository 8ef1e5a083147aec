/**
 * The one policy for suites that need a real service (PostgreSQL, Redis, Chromium): run when
 * it is there; when it is not, fail under `LATCHKEY_REQUIRE_SERVICES=1` (CI), else skip with a
 * single notice line per `npm test` run.
 */
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';

export const SERVICES_REQUIRED = process.env.LATCHKEY_REQUIRE_SERVICES === '1';

/**
 * Prints `message` once per `npm test` run and `key`, not once per test file: vitest runs files in
 * worker processes, so the first worker to claim a marker file (named after the vitest process)
 * prints, the others stay quiet.
 */
export function noticeOnce(key: string, message: string): void {
  try {
    closeSync(openSync(join(tmpdir(), `latchkey-notice-${process.ppid}-${key}`), 'wx'));
  } catch {
    return; // already printed by another worker (or no temp dir: stay quiet rather than noisy)
  }
  console.warn(message);
}

/**
 * Whether a suite needing `service` may run. `problem` is why it cannot (undefined: it can).
 * Throws under `LATCHKEY_REQUIRE_SERVICES=1`; otherwise prints one notice and returns false.
 */
export function serviceAvailable(key: string, problem: string | undefined): boolean {
  if (problem === undefined) return true;
  if (SERVICES_REQUIRED) throw new Error(`${problem} (LATCHKEY_REQUIRE_SERVICES=1 makes this a failure)`);
  noticeOnce(key, `[latchkey] skipping ${key} suites: ${problem}; LATCHKEY_REQUIRE_SERVICES=1 makes this a failure.`);
  return false;
}

/**
 * `describe(name, body)` when `problems` is empty; otherwise one failing test under
 * `LATCHKEY_REQUIRE_SERVICES=1`, else `describe.skip` and one notice per run.
 */
export function describeWithServices(key: string, name: string, problems: string[], body: () => void): void {
  if (problems.length === 0) {
    describe(name, body);
    return;
  }
  if (SERVICES_REQUIRED) {
    describe(name, () => {
      it(`needs ${key} (LATCHKEY_REQUIRE_SERVICES=1)`, () => {
        throw new Error(`${problems.join('; ')}.`);
      });
    });
    return;
  }
  noticeOnce(key, `[latchkey] skipping ${key} suites: ${problems.join('; ')}; LATCHKEY_REQUIRE_SERVICES=1 makes this a failure.`);
  describe.skip(name, body);
}
