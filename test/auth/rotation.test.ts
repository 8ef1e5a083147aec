/**
 * The refresh decision table of docs/architecture.md, row by row, on the pure decision
 * function — and, on a real server, the interleaving that once broke it: a loser whose clock
 * reading comes before the winner's rotation.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { decideRotation, type RotationDecision, type RotationState } from '../../src/auth/rotation.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { cookieHeader, expectError, refreshCookieOf, signUp } from '../http/contract.js';

const NOW = 1_000_000;
const GRACE = 10_000;
const live: RotationState = {
  counter: 5,
  rotatedAt: NOW - 1_000,
  revokedAt: null,
  revokedReason: null,
  idleExpiresAt: NOW + 60_000,
  absoluteExpiresAt: NOW + 120_000,
};

interface Row {
  row: string;
  state: Partial<RotationState>;
  presented: number;
  now?: number;
  grace?: number;
  expect: RotationDecision;
}

const TABLE: Row[] = [
  // any counter | session revoked
  {
    row: 'revoked for reuse, current token',
    state: { revokedAt: NOW - 1, revokedReason: 'reuse' },
    presented: 5,
    expect: { action: 'refuse', code: 'REFRESH_TOKEN_REUSED' },
  },
  {
    row: 'revoked for reuse, spent token',
    state: { revokedAt: NOW - 1, revokedReason: 'reuse' },
    presented: 2,
    expect: { action: 'refuse', code: 'REFRESH_TOKEN_REUSED' },
  },
  {
    row: 'revoked by logout',
    state: { revokedAt: NOW - 1, revokedReason: 'logout' },
    presented: 5,
    expect: { action: 'refuse', code: 'INVALID_REFRESH_TOKEN' },
  },
  {
    row: 'revoked by an admin',
    state: { revokedAt: NOW - 1, revokedReason: 'admin' },
    presented: 4,
    expect: { action: 'refuse', code: 'INVALID_REFRESH_TOKEN' },
  },
  // any counter | idle or absolute expiry passed
  { row: 'idle expiry reached', state: { idleExpiresAt: NOW }, presented: 5, expect: { action: 'refuse', code: 'SESSION_EXPIRED' } },
  { row: 'absolute expiry passed', state: { absoluteExpiresAt: NOW - 1 }, presented: 4, expect: { action: 'refuse', code: 'SESSION_EXPIRED' } },
  {
    row: 'revocation decides before expiry',
    state: { revokedAt: NOW - 1, revokedReason: 'reuse', idleExpiresAt: NOW - 1 },
    presented: 5,
    expect: { action: 'refuse', code: 'REFRESH_TOKEN_REUSED' },
  },
  // = counter: swap again
  { row: 'current token (lost a race)', state: {}, presented: 5, expect: { action: 'retry' } },
  { row: 'current token, never rotated', state: { counter: 0, rotatedAt: null }, presented: 0, expect: { action: 'retry' } },
  // = counter − 1 within grace: the current token again
  { row: 'previous token inside the grace window', state: {}, presented: 4, expect: { action: 'reissue' } },
  { row: 'previous token 1 ms before the window closes', state: { rotatedAt: NOW - GRACE + 1 }, presented: 4, expect: { action: 'reissue' } },
  { row: 'previous token, rotated after this request read the clock', state: { rotatedAt: NOW + 3 }, presented: 4, expect: { action: 'reissue' } },
  // anything else: revoke
  { row: 'previous token as the window closes', state: { rotatedAt: NOW - GRACE }, presented: 4, expect: { action: 'revoke' } },
  { row: 'previous token after the window', state: { rotatedAt: NOW - GRACE - 1 }, presented: 4, expect: { action: 'revoke' } },
  { row: 'previous token, grace 0', state: {}, presented: 4, grace: 0, expect: { action: 'revoke' } },
  {
    row: 'previous token, grace 0, rotated after this request read the clock',
    state: { rotatedAt: NOW + 3 },
    presented: 4,
    grace: 0,
    expect: { action: 'revoke' },
  },
  { row: 'two rotations old, inside the window', state: {}, presented: 3, expect: { action: 'revoke' } },
  { row: 'counter from the future (forged or another lineage)', state: {}, presented: 6, expect: { action: 'revoke' } },
];

describe('decideRotation: the refresh decision table', () => {
  it.each(TABLE)('$row', ({ state, presented, now = NOW, grace = GRACE, expect: decision }) => {
    expect(decideRotation({ ...live, ...state }, presented, now, grace)).toEqual(decision);
  });
});

describe('refresh with grace 0 when the winner rotated after the loser read the clock', () => {
  let t: TestServer | undefined;
  afterEach(async () => {
    await t?.close();
  });

  it('the loser is reuse, not a second 200', async () => {
    t = await startTestServer({ refreshGrace: 0 });
    const user = await signUp(t.client);
    const start = t.clock.now();
    // The winner rotates at start + 50 ms …
    t.clock.set(start + 50);
    const winner = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
    expect(winner.status).toBe(200);
    // … and the loser had read the clock at start + 20 ms, before that rotation landed.
    t.clock.set(start + 20);
    const loser = await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) });
    expectError(loser, 401, 'REFRESH_TOKEN_REUSED');
    // The lineage is dead: the winner's token no longer works either.
    t.clock.set(start + 60);
    expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(winner)!.value) }), 401, 'REFRESH_TOKEN_REUSED');
  });
});
