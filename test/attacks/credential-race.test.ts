/**
 * Logins racing the end of a password: someone who holds the old password signs in while the
 * owner changes it (or signs out everywhere). A login reads the user, verifies the hash on a
 * worker thread, then creates the session — a session must never be created for credentials
 * that were replaced, or for an account whose sessions were ended, after they were read.
 *
 * The first two tests force the worst interleaving with the real hashing pool: every login's
 * verification runs for real, but its answer is held until the change has committed (a gate on
 * the pool's result, nothing mocked away). The last one runs the race free on PostgreSQL,
 * whose row locks are what close the window there (SQLite has one writer at a time).
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp } from '../http/contract.js';
import { partsOf } from './helpers.js';

const OLD = 'correct horse battery staple';
const NEW = 'a brand new passphrase, long';
const LOGINS = 50;

// The real pool; while `gate.held` is set, each verification's result waits for `gate.open`.
const gate = vi.hoisted(() => {
  const state = { held: false, entered: 0, release: () => {}, opened: Promise.resolve() };
  return {
    state,
    hold() {
      state.held = true;
      state.entered = 0;
      state.opened = new Promise<void>((resolve) => (state.release = resolve));
    },
    open() {
      state.held = false;
      state.release();
    },
  };
});
vi.mock('../../src/auth/hashing-pool.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/auth/hashing-pool.js')>();
  const pool = real.passwordHashing;
  const verifyArgon2: typeof pool.verifyArgon2 = async (hash, password) => {
    if (!gate.state.held) return pool.verifyArgon2(hash, password);
    gate.state.entered++;
    const opened = gate.state.opened;
    const result = await pool.verifyArgon2(hash, password);
    await opened;
    return result;
  };
  return { ...real, passwordHashing: { ...pool, size: pool.size, verifyArgon2 } };
});

const servers: TestServer[] = [];
afterEach(async () => {
  gate.open();
  for (const t of servers.splice(0)) await t.close();
});

async function start(postgres = false) {
  const t = await startTestServer({ postgres });
  servers.push(t);
  const signedUp = await signUp(t.client, undefined, OLD);
  const owner = { ...signedUp, sessionId: partsOf(signedUp.accessToken).claims.sid as string };
  return { t, owner };
}

/** Fires `count` old-password logins and resolves once each has read the user and is verifying. */
async function heldLogins(t: TestServer, email: string, count = LOGINS): Promise<Promise<number>[]> {
  gate.hold();
  const logins = Array.from({ length: count }, () =>
    t.client.post('/auth/login', { body: { email, password: OLD }, headers: { 'x-latchkey-transport': 'body' } }).then((r) => r.status),
  );
  await vi.waitFor(() => expect(gate.state.entered).toBe(count), { timeout: 20_000, interval: 10 });
  gate.state.held = false; // the owner's own request below is not held
  return logins;
}

async function liveSessionIds(t: TestServer, userId: string): Promise<string[]> {
  return (await t.latchkey.store.listActiveSessions(userId, t.clock.now())).map((s) => s.id);
}

describe('attacks: logins with the old password racing its end', () => {
  it(`a password change committed while ${LOGINS} old-password logins are verifying: none of them gets a session`, async () => {
    const { t, owner } = await start();
    const logins = await heldLogins(t, owner.email);
    const change = await t.client.post('/auth/password', { bearer: owner.accessToken, body: { currentPassword: OLD, newPassword: NEW } });
    expect(change.status).toBe(200);
    gate.open();
    const statuses = await Promise.all(logins);
    expect(statuses.filter((s) => s === 200)).toHaveLength(0);
    expect(new Set(statuses)).toEqual(new Set([401]));
    // Only the session that changed the password is live.
    expect(await liveSessionIds(t, owner.userId)).toEqual([owner.sessionId]);
    // The new password works; the old one does not.
    expect((await t.client.post('/auth/login', { body: { email: owner.email, password: NEW } })).status).toBe(200);
    expect((await t.client.post('/auth/login', { body: { email: owner.email, password: OLD } })).status).toBe(401);
  });

  it('"sign out everywhere" committed while 10 logins are verifying: no session survives it', async () => {
    const { t, owner } = await start();
    const logins = await heldLogins(t, owner.email, 10);
    const all = await t.client.post('/auth/logout-all', { bearer: owner.accessToken, headers: { 'x-latchkey-transport': 'body' } });
    expect(all.status).toBe(200);
    gate.open();
    const statuses = await Promise.all(logins);
    expect(statuses.filter((s) => s === 200)).toHaveLength(0);
    expect(await liveSessionIds(t, owner.userId)).toEqual([]);
    // Sessions are ended, not the password: a login that starts now succeeds.
    expect((await t.client.post('/auth/login', { body: { email: owner.email, password: OLD } })).status).toBe(200);
  });

  it(`PostgreSQL: a password change against ${LOGINS} concurrent old-password logins, free-running: 0 old-password sessions survive`, async () => {
    const { t, owner } = await start(true);
    const logins = Array.from({ length: LOGINS }, () =>
      t.client.post('/auth/login', { body: { email: owner.email, password: OLD }, headers: { 'x-latchkey-transport': 'body' } }),
    );
    const change = t.client.post('/auth/password', { bearer: owner.accessToken, body: { currentPassword: OLD, newPassword: NEW } });
    expect((await change).status).toBe(200);
    const answers = await Promise.all(logins);
    // Whatever each login answered, the only live session is the one that changed the password.
    expect(await liveSessionIds(t, owner.userId)).toEqual([owner.sessionId]);
    for (const answer of answers.filter((a) => a.status === 200)) {
      const refreshed = await t.client.post('/auth/refresh', {
        body: { refreshToken: answer.body.refreshToken },
        headers: { 'x-latchkey-transport': 'body' },
      });
      expect(refreshed.status).toBe(401);
    }
  });
});
