/**
 * `kill -9` in the middle of a refresh load (issue 20, reliability of the hot path). Real
 * `latchkey serve` processes, real clients over HTTP, a real SIGKILL at a random moment while
 * requests are in flight:
 *
 * - SQLite: one server, killed, restarted on the same file;
 * - PostgreSQL: two instances on one schema, one killed; its clients go on on the survivor.
 *
 * Each client holds one session and refreshes in a loop, always presenting the newest token it
 * received (half of them by cookie, half by body transport). When an answer is lost, the client
 * presents the same token again — the one whose rotation may have committed unanswered; the
 * grace window is what lets it through. Afterwards, read from the database itself:
 *
 * - every session is live, with exactly one lineage: its counter is the counter of the token its
 *   client holds, or one ahead for a client whose last request was in flight at the kill (that
 *   rotation committed, its answer died with the process);
 * - nothing is half-rotated: `sessions.counter` (one increment per completed rotation, from 0 at
 *   login) equals the number of `refresh` audit rows of the session, the newest of those rows is
 *   the session's `rotated_at`, and `idle_expires_at`/`last_used_at` were written by that rotation;
 * - every client's newest token works, and so does its grace-window predecessor (the token it
 *   presented last), which gets the session's current token again without a second rotation.
 *
 * The grace window is set to 60 s here (default 10 s): the kill, a restart of the SQLite server
 * (tsx start-up and migrations on a loaded machine) and the checks must fit in it for the token
 * whose answer was lost to work. With an outage longer than the window that token is a replay
 * (docs/storage.md#crash-safety).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { decodeSecret } from '../../src/config/config.js';
import { deriveKeys } from '../../src/keys/master-secret.js';
import { decodeRefreshToken, type RefreshTokenClaims } from '../../src/auth/refresh-token.js';
import type { TestClient, TestResponse } from '../helpers/http-client.js';
import {
  describeServices,
  PASSWORD,
  refreshTokenOf,
  sleep,
  startCluster,
  startInstance,
  uniqueEmail,
  type Cluster,
  type Instance,
} from './instances.js';

/** Seconds (see the header). */
const GRACE = 60;
const SESSIONS = 24;
/** The server is killed once this many rotations were answered, plus a random number below {@link KILL_JITTER}. */
const KILL_AFTER = 300;
const KILL_JITTER = 300;
/** `LATCHKEY_REFRESH_TOKEN_TTL` the servers run with (its default), to check what a rotation wrote. */
const REFRESH_TTL_MS = 604_800_000;

type Transport = 'cookie' | 'body';

interface LoadClient {
  index: number;
  transport: Transport;
  instance: Instance;
  sessionId: string;
  /** The newest refresh token this client received (the one it presents next). */
  newest: string;
  /** The token it presented before `newest` (its grace-window predecessor once `newest` came). */
  previous: string | undefined;
  /** 200 answers received. */
  answers: number;
  /** A request of this client is on the wire. */
  inFlight: boolean;
  /** Requests that got no answer (the server died under them). */
  lost: number;
  /** `answers` when the first answer was lost. */
  answersAtLoss: number | undefined;
  /** Unexpected answers (any is a failure). */
  failures: string[];
}

const transportHeaders = (transport: Transport): Record<string, string> => (transport === 'body' ? { 'x-latchkey-transport': 'body' } : {});

function tokenOf(response: TestResponse, transport: Transport): string | undefined {
  return transport === 'body' ? (response.body?.refreshToken as string | undefined) : refreshTokenOf(response);
}

async function presentToken(client: TestClient, token: string, transport: Transport): Promise<{ response: TestResponse; token: string | undefined }> {
  const response =
    transport === 'body'
      ? await client.post('/auth/refresh', { headers: transportHeaders('body'), body: { refreshToken: token } })
      : await client.post('/auth/refresh', { cookie: `refreshToken=${token}` });
  return { response, token: tokenOf(response, transport) };
}

/** Registers a user and signs in once on `instance` with `transport`. */
async function signIn(instance: Instance, transport: Transport, claimsOf: (token: string) => RefreshTokenClaims, index: number): Promise<LoadClient> {
  const email = uniqueEmail();
  const registered = await instance.client.post('/auth/register', { body: { email, password: PASSWORD } });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${registered.body?.error}`);
  const res = await instance.client.post('/auth/login', { headers: transportHeaders(transport), body: { email, password: PASSWORD } });
  const token = tokenOf(res, transport);
  if (res.status !== 200 || !token) throw new Error(`login: ${res.status} ${res.body?.error}`);
  return {
    index,
    transport,
    instance,
    sessionId: claimsOf(token).sessionId,
    newest: token,
    previous: undefined,
    answers: 0,
    inFlight: false,
    lost: 0,
    answersAtLoss: undefined,
    failures: [],
  };
}

async function signInAll(count: number, instanceOf: (i: number) => Instance, claimsOf: (token: string) => RefreshTokenClaims): Promise<LoadClient[]> {
  const clients: LoadClient[] = [];
  // Four at a time: each sign-up is two argon2id hashes, on a 2-core machine.
  for (let i = 0; i < count; i += 4) {
    const batch = Array.from({ length: Math.min(4, count - i) }, (_, j) => i + j);
    clients.push(...(await Promise.all(batch.map((k) => signIn(instanceOf(k), k % 2 === 0 ? 'cookie' : 'body', claimsOf, k)))));
  }
  return clients;
}

interface Load {
  /** 200 answers so far, over all clients. */
  answered(): number;
  /** Asks every client to stop after its current request; resolves when all have. */
  stop(): Promise<void>;
  /** Resolves when every client has stopped on its own (its `onLost` said so). */
  done: Promise<void>;
}

/**
 * Every client refreshes in a loop, presenting its newest token. A request without an answer
 * (connection reset or refused) asks `onLost` what to do: `'retry'` presents the same token
 * again (on `client.instance`, which `onLost` may have changed), `'stop'` ends this client.
 */
function startLoad(
  clients: LoadClient[],
  claimsOf: (token: string) => RefreshTokenClaims,
  onLost: (client: LoadClient) => Promise<'retry' | 'stop'>,
): Load {
  let stopping = false;
  let answered = 0;
  const loop = async (c: LoadClient) => {
    while (!stopping) {
      const presented = c.newest;
      c.inFlight = true;
      let result: Awaited<ReturnType<typeof presentToken>>;
      try {
        result = await presentToken(c.instance.client, presented, c.transport);
      } catch {
        c.inFlight = false;
        c.lost++;
        c.answersAtLoss ??= c.answers;
        if ((await onLost(c)) === 'stop') return;
        continue;
      }
      c.inFlight = false;
      const { response, token } = result;
      if (response.status !== 200 || token === undefined) {
        c.failures.push(`${response.status} ${response.body?.error ?? ''}`);
        return;
      }
      // One step along the lineage, whether rotated here or handed out again (grace window).
      if (claimsOf(token).counter !== claimsOf(presented).counter + 1) {
        c.failures.push(`counter ${claimsOf(presented).counter} → ${claimsOf(token).counter}`);
        return;
      }
      c.previous = presented;
      c.newest = token;
      c.answers++;
      answered++;
    }
  };
  const done = Promise.all(clients.map(loop)).then(() => undefined);
  return {
    answered: () => answered,
    stop: async () => {
      stopping = true;
      await done;
    },
    done,
  };
}

/** Waits until `condition()` holds, polling every 5 ms, or throws after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** SIGKILL; resolves once the process is gone, with the time of the signal. */
async function kill9(instance: Instance): Promise<number> {
  const exited = new Promise<void>((resolve) => instance.child.once('close', () => resolve()));
  instance.child.kill('SIGKILL');
  const killedAt = Date.now();
  await exited;
  return killedAt;
}

/** A session as the database holds it, with its `refresh` audit rows. */
interface SessionState {
  id: string;
  counter: number;
  rotatedAt: number | null;
  lastUsedAt: number;
  idleExpiresAt: number;
  revokedAt: number | null;
  /** `at` of the session's `refresh` audit rows, oldest first. */
  refreshAudit: number[];
}

/** The database's own account of the sessions (same SQL on SQLite and PostgreSQL). */
async function readSessions(
  query: (sql: string) => Promise<Record<string, unknown>[]>,
): Promise<{ sessions: Map<string, SessionState>; auditTypes: Map<string, number> }> {
  const rows = await query('SELECT id, counter, rotated_at, last_used_at, idle_expires_at, revoked_at FROM sessions');
  const audit = await query(`SELECT session_id, at FROM audit_events WHERE type = 'refresh' ORDER BY id`);
  const types = await query('SELECT type, COUNT(*) AS n FROM audit_events GROUP BY type');
  const num = (v: unknown) => (v === null ? null : Number(v));
  const sessions = new Map<string, SessionState>();
  for (const r of rows) {
    sessions.set(String(r.id), {
      id: String(r.id),
      counter: Number(r.counter),
      rotatedAt: num(r.rotated_at),
      lastUsedAt: Number(r.last_used_at),
      idleExpiresAt: Number(r.idle_expires_at),
      revokedAt: num(r.revoked_at),
      refreshAudit: [],
    });
  }
  for (const a of audit) sessions.get(String(a.session_id))?.refreshAudit.push(Number(a.at));
  return { sessions, auditTypes: new Map(types.map((t) => [String(t.type), Number(t.n)])) };
}

/**
 * No session half-rotated: every rotation that committed has its audit row and wrote the
 * session's times, and no audit row exists without its rotation. Also: nothing was revoked, no
 * reuse was detected, and the audit log holds no `refresh` row for a session it does not know.
 */
function expectWholeRotations(state: Awaited<ReturnType<typeof readSessions>>, clients: LoadClient[]) {
  const { sessions, auditTypes } = state;
  expect(sessions.size).toBe(clients.length);
  for (const s of sessions.values()) {
    const summary = { id: s.id, revoked: s.revokedAt, auditRows: s.refreshAudit.length };
    expect(summary).toEqual({ id: s.id, revoked: null, auditRows: s.counter });
    if (s.counter > 0) {
      expect({ id: s.id, lastAudit: s.refreshAudit.at(-1), lastUsed: s.lastUsedAt, idle: s.idleExpiresAt }).toEqual({
        id: s.id,
        lastAudit: s.rotatedAt,
        lastUsed: s.rotatedAt,
        idle: s.rotatedAt! + REFRESH_TTL_MS,
      });
    }
  }
  const counters = [...sessions.values()].reduce((sum, s) => sum + s.counter, 0);
  expect(auditTypes.get('refresh') ?? 0).toBe(counters);
  expect(auditTypes.get('refresh_reuse_detected')).toBeUndefined();
}

/**
 * After the kill: each client presents its newest token (200, one step on), then that same token
 * again — now the grace-window predecessor — which gets the same current token without a second
 * rotation, then the new token (200, one more step). Returns nothing; failures are assertions.
 */
async function expectClientsContinue(
  clients: LoadClient[],
  claimsOf: (token: string) => RefreshTokenClaims,
  instanceOf: (c: LoadClient) => Instance,
) {
  await Promise.all(
    clients.map(async (c) => {
      const client = instanceOf(c).client;
      const before = claimsOf(c.newest).counter;
      const first = await presentToken(client, c.newest, c.transport);
      expect({ client: c.index, status: first.response.status, error: first.response.body?.error }).toEqual({
        client: c.index,
        status: 200,
        error: undefined,
      });
      expect(claimsOf(first.token!)).toEqual({ sessionId: c.sessionId, counter: before + 1 });
      const again = await presentToken(client, c.newest, c.transport);
      expect({ client: c.index, status: again.response.status, same: again.token === first.token }).toEqual({
        client: c.index,
        status: 200,
        same: true,
      });
      const next = await presentToken(client, first.token!, c.transport);
      expect({ client: c.index, status: next.response.status }).toEqual({ client: c.index, status: 200 });
      expect(claimsOf(next.token!)).toEqual({ sessionId: c.sessionId, counter: before + 2 });
      // An access token of the continued lineage is accepted.
      expect((await client.get('/auth/me', { bearer: next.response.body.accessToken })).status).toBe(200);
      c.previous = first.token;
      c.newest = next.token!;
    }),
  );
}

function environment(): { env: Record<string, string>; claimsOf: (token: string) => RefreshTokenClaims } {
  const secret = randomBytes(32).toString('base64url');
  const macKey = deriveKeys(decodeSecret(secret)).refreshMac;
  const claimsOf = (token: string) => {
    const claims = decodeRefreshToken(macKey, token);
    if (!claims) throw new Error('not an authentic refresh token');
    return claims;
  };
  return {
    env: {
      LATCHKEY_SECRET: secret,
      LATCHKEY_COOKIE_SECURE: 'false',
      LATCHKEY_LOG_LEVEL: 'warn',
      LATCHKEY_RATE_LIMITS: 'off',
      LATCHKEY_REFRESH_GRACE: String(GRACE),
    },
    claimsOf,
  };
}

describe('kill -9 of latchkey serve on SQLite during a refresh load, restart on the same file', () => {
  let dir: string;
  const running: Instance[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-kill-'));
  });
  afterAll(async () => {
    await Promise.all(running.map((i) => i.stop()));
    await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it(`${SESSIONS} clients refreshing; after the restart every lineage continues from the client's newest token or its predecessor, every rotation has its audit row`, async () => {
    const { env: base, claimsOf } = environment();
    const file = join(dir, 'latchkey.db');
    const env = { ...base, LATCHKEY_DATABASE_URL: `sqlite:${file}` };
    const server = await startInstance('sqlite', env);
    running.push(server);
    const clients = await signInAll(SESSIONS, () => server, claimsOf);

    const load = startLoad(clients, claimsOf, async () => 'stop');
    const killAfter = KILL_AFTER + randomInt(KILL_JITTER);
    await until(() => load.answered() >= killAfter, 60_000, `${killAfter} rotations`);
    await sleep(randomInt(25));
    const inFlight = new Set(clients.filter((c) => c.inFlight).map((c) => c.index));
    const answeredAtKill = load.answered();
    await kill9(server);
    await load.done;
    const answeredAfterSignal = load.answered() - answeredAtKill;
    expect(clients.flatMap((c) => c.failures)).toEqual([]);
    // The kill reached clients mid-request: some requests were on the wire.
    expect(inFlight.size).toBeGreaterThan(0);

    const restartStarted = Date.now();
    const restarted = await startInstance('sqlite (restarted)', env);
    running.push(restarted);
    const restartMs = Date.now() - restartStarted;

    // The file as the kill left it (read beside the running server, before any client acts).
    const db = new Database(file, { readonly: true, fileMustExist: true });
    const read = async (sql: string) => db.prepare(sql).all() as Record<string, unknown>[];
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const afterKill = await readSessions(read);
    db.close();
    expectWholeRotations(afterKill, clients);
    // One lineage per session, at the client's newest token or one step ahead of it — and one
    // step ahead only for a client whose request was on the wire (committed, never answered).
    const ahead: number[] = [];
    for (const c of clients) {
      const held = claimsOf(c.newest).counter;
      expect(held).toBe(c.answers);
      const stored = afterKill.sessions.get(c.sessionId)!.counter;
      expect({ client: c.index, step: stored - held }).toEqual({ client: c.index, step: stored === held + 1 && inFlight.has(c.index) ? 1 : 0 });
      if (stored === held + 1) ahead.push(c.index);
    }
    const rotationsAtKill = [...afterKill.sessions.values()].reduce((sum, s) => sum + s.counter, 0);
    expect(rotationsAtKill).toBe(load.answered() + ahead.length);

    await expectClientsContinue(clients, claimsOf, () => restarted);
    // The grace window covered the restart (the header): measured, not assumed.
    expect(Date.now() - restartStarted).toBeLessThan(GRACE * 1000);

    const final = new Database(file, { readonly: true, fileMustExist: true });
    const end = await readSessions(async (sql) => final.prepare(sql).all() as Record<string, unknown>[]);
    final.close();
    expectWholeRotations(end, clients);
    for (const c of clients) expect(end.sessions.get(c.sessionId)!.counter).toBe(claimsOf(c.newest).counter);

    console.info(
      `[kill-during-refresh sqlite] killed after ${answeredAtKill} answered rotations (target ${killAfter}), ${inFlight.size}/${SESSIONS} requests in flight ` +
        `(${answeredAfterSignal} answers already on their way still arrived); ` +
        `${rotationsAtKill} rotations in the file (${ahead.length} committed but unanswered), every one with its audit row; ` +
        `restart ${restartMs} ms; afterwards ${SESSIONS}/${SESSIONS} newest tokens and ${SESSIONS}/${SESSIONS} predecessors worked, ${end.auditTypes.get('refresh')} refresh audit rows = rotations`,
    );
  }, 180_000);
});

await describeServices('kill -9 of one of two instances on one PostgreSQL schema during a refresh load', { redis: true }, () => {
  let cluster: Cluster;
  let A: Instance;
  let B: Instance;
  let claimsOf: (token: string) => RefreshTokenClaims;

  beforeAll(async () => {
    const prepared = environment();
    claimsOf = prepared.claimsOf;
    cluster = await startCluster({ env: prepared.env });
    [A, B] = cluster.instances as [Instance, Instance];
  }, 120_000);

  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it(`${SESSIONS} clients over both; B killed mid-load, its clients go on on A from their newest token; every rotation has its audit row`, async () => {
    const clients = await signInAll(SESSIONS, (i) => (i % 2 === 0 ? A : B), claimsOf);
    const ofB = new Set(clients.filter((c) => c.instance === B).map((c) => c.index));
    let killed = false;
    const unexpected: string[] = [];
    // A client of B whose request died presents the same token to A (it may have been rotated
    // by B unanswered); a client of A must never lose an answer.
    const load = startLoad(clients, claimsOf, async (c) => {
      if (c.instance === B && killed) {
        c.instance = A;
        return 'retry';
      }
      unexpected.push(`client ${c.index} on ${c.instance.name} lost an answer`);
      return 'stop';
    });
    const killAfter = KILL_AFTER + randomInt(KILL_JITTER);
    await until(() => load.answered() >= killAfter, 60_000, `${killAfter} rotations`);
    await sleep(randomInt(25));
    const inFlightOfB = new Set(clients.filter((c) => ofB.has(c.index) && c.inFlight).map((c) => c.index));
    const answeredAtKill = load.answered();
    killed = true;
    const killedAt = await kill9(B);
    // The load goes on on A: every client of B fails over, then some hundreds more rotations.
    await until(() => clients.every((c) => c.instance === A) || clients.some((c) => c.failures.length > 0), 30_000, 'the clients of B to fail over');
    const afterFailover = load.answered();
    await until(() => load.answered() >= afterFailover + 200 || clients.some((c) => c.failures.length > 0), 60_000, '200 rotations on A');
    await load.stop();
    expect(unexpected).toEqual([]);
    expect(clients.flatMap((c) => c.failures)).toEqual([]);
    expect(inFlightOfB.size).toBeGreaterThan(0);
    for (const c of clients) expect({ client: c.index, lost: c.lost }).toEqual({ client: c.index, lost: ofB.has(c.index) ? 1 : 0 });

    const db = new pg.Client({ connectionString: cluster.schema.url });
    await db.connect();
    try {
      const query = async (sql: string) => (await db.query(sql)).rows as Record<string, unknown>[];
      const state = await readSessions(query);
      expectWholeRotations(state, clients);
      // Every client holds its session's current token: one lineage each, and the rotation B
      // committed without answering was handed out again by A (the grace window).
      for (const c of clients) {
        expect({ client: c.index, stored: state.sessions.get(c.sessionId)!.counter }).toEqual({
          client: c.index,
          stored: claimsOf(c.newest).counter,
        });
        expect(claimsOf(c.newest).counter).toBe(c.answers);
      }
      // Which of B's in-flight rotations committed: the session's refresh row that was the
      // answer lost is dated before the kill (A's rotations all come after it).
      const committedUnanswered = clients.filter((c) => {
        if (!ofB.has(c.index)) return false;
        const s = state.sessions.get(c.sessionId)!;
        return s.refreshAudit.filter((at) => at <= killedAt).length > c.answersAtLoss!;
      });
      expect(committedUnanswered.every((c) => inFlightOfB.has(c.index))).toBe(true);

      await expectClientsContinue(clients, claimsOf, () => A);
      const end = await readSessions(query);
      expectWholeRotations(end, clients);
      for (const c of clients) expect(end.sessions.get(c.sessionId)!.counter).toBe(claimsOf(c.newest).counter);
      console.info(
        `[kill-during-refresh postgres] B killed after ${answeredAtKill} answered rotations (target ${killAfter}), ${inFlightOfB.size}/${ofB.size} of B's clients in flight; ` +
          `${committedUnanswered.length} of those rotations committed unanswered and were handed out again by A; ${load.answered()} answers in all; ` +
          `afterwards ${SESSIONS}/${SESSIONS} newest tokens and predecessors worked on A, ${end.auditTypes.get('refresh')} refresh audit rows = rotations`,
      );
    } finally {
      await db.end();
    }
  }, 180_000);
});
