/**
 * Rotation under concurrency (docs/http-api.md#rotation-and-the-grace-window), over real sockets. Exported so that the
 * same races run on every store and every way of serving the API.
 */
import { describe, it, expect, afterEach } from 'vitest';
import type { StartTarget, ContractTarget } from './contract.js';
import { signUp, cookieHeader, refreshCookieOf, expectError } from './contract.js';

const PARALLEL = 24;

export function runRotationRaces(label: string, start: StartTarget): void {
  describe(`rotation races — ${label}`, () => {
    let t: ContractTarget | undefined;
    afterEach(async () => {
      await t?.close();
      t = undefined;
    });

    it(`${PARALLEL} concurrent refreshes of one token within the grace window: all 200, one lineage survives`, async () => {
      t = await start({ refreshGrace: 10 });
      const user = await signUp(t.client);
      const responses = await Promise.all(
        Array.from({ length: PARALLEL }, () => t!.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) })),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(PARALLEL).fill(200));
      const tokens = new Set(responses.map((r) => refreshCookieOf(r)!.value));
      // Every caller got the session's one current token: a single lineage.
      expect(tokens.size).toBe(1);
      const [current] = tokens;
      for (const r of responses) expect((await t.client.get('/auth/me', { bearer: r.body.accessToken })).status).toBe(200);
      // The lineage continues…
      const next = await t.client.post('/auth/refresh', { cookie: cookieHeader(current!) });
      expect(next.status).toBe(200);
      // …and a replay of the original token after the window revokes it, newest token included.
      t.clock.advance(11_000);
      expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) }), 401, 'REFRESH_TOKEN_REUSED');
      expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(next)!.value) }), 401, 'REFRESH_TOKEN_REUSED');
    });

    it('grace 0: N parallel refreshes → exactly one 200, the rest are reuse, and the winner is revoked too', async () => {
      t = await start({ refreshGrace: 0 });
      const user = await signUp(t.client);
      const responses = await Promise.all(
        Array.from({ length: 12 }, () => t!.client.post('/auth/refresh', { cookie: cookieHeader(user.refreshToken) })),
      );
      const ok = responses.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      for (const r of responses.filter((r) => r.status !== 200)) expectError(r, 401, 'REFRESH_TOKEN_REUSED');
      expectError(await t.client.post('/auth/refresh', { cookie: cookieHeader(refreshCookieOf(ok[0]!)!.value) }), 401, 'REFRESH_TOKEN_REUSED');
    });

    it('logout racing refreshes leaves no working refresh token', async () => {
      t = await start({ refreshGrace: 10 });
      for (let round = 0; round < 3; round++) {
        const user = await signUp(t.client);
        const cookie = cookieHeader(user.refreshToken);
        const results = await Promise.all([
          ...Array.from({ length: 10 }, () => t!.client.post('/auth/refresh', { cookie })),
          t.client.post('/auth/logout', { cookie }),
          ...Array.from({ length: 10 }, () => t!.client.post('/auth/refresh', { cookie })),
        ]);
        const issued = results.map((r) => refreshCookieOf(r)?.value).filter((v): v is string => !!v && v !== '');
        for (const token of new Set([user.refreshToken, ...issued])) {
          const res = await t.client.post('/auth/refresh', { cookie: cookieHeader(token) });
          expect(res.status).toBe(401);
        }
      }
    });
  });
}
