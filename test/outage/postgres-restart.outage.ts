/**
 * Issue 3, acceptance 3: PostgreSQL restarted (`pg_ctlcluster … stop`, 1.5 s, `start`) under a running
 * refresh load on two instances → 503 `UNAVAILABLE` during the outage, full service after,
 * no crashed process, and no lost or corrupted session (every lineage continues, no session
 * revoked, each session's counter matches the tokens its client received).
 *
 * Restarting the server breaks every other PostgreSQL test running at that moment, so this
 * file is not a `*.test.ts`: `vitest.outage.config.ts` runs it alone, after the main run
 * (`npm test`). It needs root and the Debian `pg_ctlcluster` wrapper; PostgreSQL is started
 * again in `finally` whatever happens.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminQuery, noticeOnce, SERVICES_REQUIRED } from '../helpers/postgres.js';
import { describeServices, refresh, refreshTokenOf, signUp, sleep, startCluster, type Cluster, type Instance } from '../multi-instance/instances.js';

const run = promisify(execFile);
const SESSIONS = 8;
/** How long PostgreSQL stays down between stop and start. */
const OUTAGE_MS = 1_500;

function pgVersion(): string | undefined {
  try {
    return readdirSync('/etc/postgresql')[0];
  } catch {
    return undefined;
  }
}

async function pgctl(action: 'start' | 'stop' | 'status'): Promise<void> {
  await run('pg_ctlcluster', ['--skip-systemctl-redirect', pgVersion()!, 'main', action], { timeout: 60_000 });
}

/** Starts the cluster if it is not running; never throws. */
async function ensurePostgresRunning(): Promise<void> {
  try {
    await pgctl('status');
  } catch {
    await pgctl('start').catch((error: unknown) => console.error(`[outage] could not start PostgreSQL: ${String(error)}`));
  }
}

const canRestart = process.getuid?.() === 0 && pgVersion() !== undefined;
if (!canRestart && !SERVICES_REQUIRED) {
  noticeOnce('pg-restart', '[latchkey] skipping the PostgreSQL restart test: needs root and pg_ctlcluster (Debian postgresql-common).');
}

await describeServices('PostgreSQL restarted under load', {}, () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ env: { LATCHKEY_RATE_LIMITS: 'off', LATCHKEY_DB_POOL_SIZE: '4' } });
  }, 90_000);
  afterAll(async () => {
    await ensurePostgresRunning();
    await cluster?.close();
  }, 60_000);

  it.runIf(canRestart || SERVICES_REQUIRED)(
    '503 UNAVAILABLE during the outage, 200 after, every session intact',
    async () => {
      expect(canRestart, 'needs root and pg_ctlcluster').toBe(true);
      const [A, B] = cluster.instances as [Instance, Instance];
      const sessions = await Promise.all(
        Array.from({ length: SESSIONS }, async (_, i) => {
          const user = await signUp(i % 2 ? A.client : B.client, i % 2 ? B.client : A.client);
          return { ...user, token: user.refreshToken, seen: new Set([user.refreshToken]), sessionId: '' };
        }),
      );
      const statuses = new Map<number, number>();
      const unexpected: string[] = [];
      const unavailableAt: number[] = [];
      const readyz: { at: number; status: number }[] = [];
      let okAfterRestart = 0;
      let restartedAt = Infinity;
      let stop = false;

      const load = sessions.map(async (s, i) => {
        for (let n = 0; !stop; n++) {
          const instance = (i + n) % 2 ? A : B;
          const res = await refresh(instance.client, s.token).catch(() => undefined);
          const status = res?.status ?? 0;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (res && status === 200) {
            s.token = refreshTokenOf(res)!;
            s.seen.add(s.token);
            if (Date.now() > restartedAt) okAfterRestart++;
          } else if (status === 503) {
            unavailableAt.push(Date.now());
            if (res!.body?.error !== 'UNAVAILABLE') unexpected.push(`503 with ${res!.body?.error}`);
            await sleep(50);
          } else {
            unexpected.push(`${instance.name}: ${status} ${res?.body?.error ?? '(no answer)'}`);
          }
          await sleep(10);
        }
      });
      const probes = (async () => {
        while (!stop) {
          for (const instance of [A, B]) {
            const res = await fetch(`${instance.baseUrl}/readyz`).catch(() => undefined);
            readyz.push({ at: Date.now(), status: res?.status ?? 0 });
          }
          await sleep(50);
        }
      })();

      let restartMs = 0;
      try {
        await sleep(1_500);
        // A restart with a guaranteed outage: `restart` alone can be over in milliseconds,
        // faster than a read retry, and then there would be no 503 to observe.
        const before = Date.now();
        await pgctl('stop');
        await sleep(OUTAGE_MS);
        await pgctl('start');
        restartMs = Date.now() - before;
        restartedAt = Date.now();
        // Full service again: wait for a stretch of successes after the restart.
        const deadline = Date.now() + 30_000;
        while (okAfterRestart < SESSIONS * 10 && Date.now() < deadline) await sleep(100);
      } finally {
        stop = true;
        await ensurePostgresRunning();
      }
      await Promise.all([...load, probes]);

      const total = [...statuses.values()].reduce((a, b) => a + b, 0);
      const outage = unavailableAt.length ? unavailableAt[unavailableAt.length - 1]! - unavailableAt[0]! : 0;
      console.info(
        `[outage] pg_ctlcluster stop, ${OUTAGE_MS} ms, start took ${restartMs} ms; ${total} refreshes: ${JSON.stringify(Object.fromEntries(statuses))}; ` +
          `503s spread over ${outage} ms; readyz 503s: ${readyz.filter((r) => r.status === 503).length}`,
      );

      expect(unexpected).toEqual([]);
      expect([...statuses.keys()].sort()).toEqual([200, 503]);
      expect(unavailableAt.length).toBeGreaterThan(0);
      expect(readyz.some((r) => r.status === 503)).toBe(true);
      expect(readyz.slice(-2).map((r) => r.status)).toEqual([200, 200]);
      expect(okAfterRestart).toBeGreaterThanOrEqual(SESSIONS * 10);
      expect(A.alive() && B.alive()).toBe(true);

      // No lost or corrupted session: every lineage continues on both instances…
      for (const s of sessions) {
        for (const instance of [A, B]) {
          const res = await refresh(instance.client, s.token);
          expect(res.status).toBe(200);
          s.token = refreshTokenOf(res)!;
          s.seen.add(s.token);
        }
      }
      // …none was revoked, and each counter equals the rotations its client saw.
      const rows = await adminQuery<{ user_id: string; counter: number; revoked_at: string | null }>(
        `select user_id, counter, revoked_at from ${cluster.schema.schema}.sessions`,
      );
      expect(rows).toHaveLength(SESSIONS);
      for (const s of sessions) {
        const row = rows.find((r) => r.user_id === s.userId)!;
        expect(row.revoked_at).toBeNull();
        expect(row.counter).toBe(s.seen.size - 1);
      }
    },
    120_000,
  );
});
