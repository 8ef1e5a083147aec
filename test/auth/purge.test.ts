/** Ended sessions are deleted after the retention period; live ones never are. */
import { describe, it, expect, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp, cookieHeader } from '../http/contract.js';
import { SESSION_RETENTION_SECONDS } from '../../src/latchkey.js';

describe('purgeEndedSessions', () => {
  let t: TestServer | undefined;
  afterAll(async () => {
    await t?.close();
  });

  it('keeps live and recently ended sessions, deletes sessions ended longer ago than the retention', async () => {
    t = await startTestServer({ refreshTokenTtl: 30 * 24 * 3600, sessionMaxAge: 60 * 24 * 3600 });
    const ended = await signUp(t.client);
    const live = await signUp(t.client);
    const sessionOf = (accessToken: string) => JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()).sid as string;
    await t.client.post('/auth/logout', { cookie: cookieHeader(ended.refreshToken) });

    expect(await t.latchkey.purgeEndedSessions()).toBe(0);
    t.clock.advance((SESSION_RETENTION_SECONDS + 60) * 1000);
    expect(await t.latchkey.purgeEndedSessions()).toBe(1);
    expect(await t.latchkey.store.findSession(sessionOf(ended.accessToken))).toBeUndefined();
    expect(await t.latchkey.store.findSession(sessionOf(live.accessToken))).toBeDefined();
    expect((await t.client.post('/auth/refresh', { cookie: cookieHeader(live.refreshToken) })).status).toBe(200);
    // A purged session's token is simply unknown now.
    expect((await t.client.post('/auth/refresh', { cookie: cookieHeader(ended.refreshToken) })).body.error).toBe('INVALID_REFRESH_TOKEN');
  });
});
