/** Retention: ended sessions and old audit events are deleted after their retention; live data never is. */
import { describe, it, expect, afterAll } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp, cookieHeader } from '../http/contract.js';
import { SESSION_RETENTION_SECONDS } from '../../src/latchkey.js';
import { loadConfig } from '../../src/config/config.js';

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

describe('purgeAuditEvents', () => {
  let t: TestServer | undefined;
  afterAll(async () => {
    await t?.close();
  });
  const types = async (server: TestServer) => (await server.latchkey.store.listAudit({ limit: 1000 })).map((e) => e.type);

  it('deletes events older than LATCHKEY_AUDIT_RETENTION (default 90 days), keeps newer ones; 0 keeps everything', async () => {
    expect(loadConfig({}).auditRetention).toBe(90 * 24 * 3600);
    t = await startTestServer();
    await signUp(t.client); // register + login events, now
    const old = (await types(t)).length;
    expect(old).toBeGreaterThan(0);
    t.clock.advance(60 * 24 * 3600 * 1000);
    await signUp(t.client); // 60 days later
    expect(await t.latchkey.purgeAuditEvents()).toBe(0);
    t.clock.advance(31 * 24 * 3600 * 1000); // the first events are now 91 days old
    expect(await t.latchkey.purgeAuditEvents(0)).toBe(0);
    expect(await t.latchkey.purgeAuditEvents()).toBe(old);
    expect(await types(t)).toHaveLength(old); // the second sign-up's events remain
  });

  it('LATCHKEY_AUDIT_RETENTION must be a whole number of seconds', () => {
    expect(loadConfig({ LATCHKEY_AUDIT_RETENTION: '0' }).auditRetention).toBe(0);
    expect(() => loadConfig({ LATCHKEY_AUDIT_RETENTION: '-1' })).toThrow(/LATCHKEY_AUDIT_RETENTION/);
    expect(() => loadConfig({ LATCHKEY_AUDIT_RETENTION: '30d' })).toThrow(/LATCHKEY_AUDIT_RETENTION/);
  });
});
