/**
 * A rotation never promotes a key that has not been published for the JWKS max-age (plus the
 * key reload bound): a verifier that refetches the JWKS only when its `max-age` runs out
 * accepts every token issued meanwhile, however often rotations are attempted; two rotations
 * in a row — in one process, racing in two, or from the CLI — are refused with
 * KEY_ROTATION_TOO_SOON (docs/architecture.md#keys).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { JWKS_MAX_AGE_SECONDS, KeyRotationTooSoonError, ROTATION_MIN_NEXT_AGE_SECONDS } from '../../src/keys/keyring.js';
import { createLatchkey } from '../../src/latchkey.js';
import { loadConfig } from '../../src/config/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { testClock } from '../helpers/clock.js';
import { runCli } from '../helpers/cli.js';
import { signUp } from '../http/contract.js';

const MIN_AGE_MS = ROTATION_MIN_NEXT_AGE_SECONDS * 1000;
let t: TestServer | undefined;
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const task of cleanup.splice(0)) await task();
});

async function refused(rotation: Promise<unknown>): Promise<KeyRotationTooSoonError> {
  const error = await rotation.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyRotationTooSoonError);
  expect(error).toMatchObject({ code: 'KEY_ROTATION_TOO_SOON' });
  return error as KeyRotationTooSoonError;
}

describe('rotation delay', () => {
  it('the JWKS max-age is 300 s, and it is the Cache-Control the JWKS is served with', async () => {
    t = await startTestServer();
    expect(JWKS_MAX_AGE_SECONDS).toBe(300);
    expect((await t.client.get('/.well-known/jwks.json')).headers.get('cache-control')).toBe(`public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    expect(ROTATION_MIN_NEXT_AGE_SECONDS).toBeGreaterThanOrEqual(JWKS_MAX_AGE_SECONDS + 30); // + LATCHKEY_KEY_RELOAD_INTERVAL's maximum
  });

  it('two rotations in a row: the second is refused, changes nothing, and says when it is allowed', async () => {
    t = await startTestServer();
    await refused(t.latchkey.keys.rotate()); // the next key was created at start-up, just now
    t.clock.advance(MIN_AGE_MS);
    const kid = await t.latchkey.keys.rotate();
    const published = t.latchkey.keys.jwks().keys.map((k) => k.kid);
    const error = await refused(t.latchkey.keys.rotate());
    expect(error.retryAt).toBe(t.clock.now() + MIN_AGE_MS); // the new next key was created by the first rotation
    expect(error.message).toContain(new Date(error.retryAt).toISOString());
    expect(t.latchkey.keys.signingKey.kid).toBe(kid);
    await t.latchkey.keys.reload();
    expect(t.latchkey.keys.jwks().keys.map((k) => k.kid)).toEqual(published);
    t.clock.advance(MIN_AGE_MS - 1);
    await refused(t.latchkey.keys.rotate());
    t.clock.advance(1);
    expect(await t.latchkey.keys.rotate()).not.toBe(kid);
    // force: for a compromised key, promoted at once.
    expect(await t.latchkey.keys.rotate({ force: true })).toEqual(expect.any(String));
  });

  it('a verifier that refetches the JWKS only when max-age runs out accepts every token, with rotations attempted every 20 s for an hour', async () => {
    t = await startTestServer({ accessTokenTtl: 900 });
    const user = await signUp(t.client);
    const server = t;
    let held: JSONWebKeySet = (await server.client.get('/.well-known/jwks.json')).body;
    let heldAt = server.clock.now();
    let rotations = 0;
    let refusals = 0;
    const kids = new Set<string>();
    for (let second = 0; second < 3600; second += 20) {
      server.clock.advance(20_000);
      try {
        await server.latchkey.keys.rotate();
        rotations++;
      } catch (error) {
        expect(error).toBeInstanceOf(KeyRotationTooSoonError);
        refusals++;
      }
      if (server.clock.now() - heldAt >= JWKS_MAX_AGE_SECONDS * 1000) {
        held = (await server.client.get('/.well-known/jwks.json')).body;
        heldAt = server.clock.now();
      }
      const login = await server.client.post('/auth/login', { body: { email: user.email, password: user.password } });
      expect(login.status).toBe(200);
      const token = login.body.accessToken as string;
      kids.add(decodeProtectedHeader(token).kid!);
      await expect(
        jwtVerify(token, createLocalJWKSet(held), {
          issuer: server.latchkey.config.issuer,
          audience: server.latchkey.config.audience,
          currentDate: new Date(server.clock.now()),
        }),
        `token at ${second + 20} s, JWKS held since ${(heldAt - server.clock.now()) / 1000} s`,
      ).resolves.toBeDefined();
    }
    console.info(`[rotation delay] 1 h, a rotation attempted every 20 s: ${rotations} done, ${refusals} refused, ${kids.size} signing keys seen`);
    expect(rotations).toBeGreaterThanOrEqual(Math.floor(3600 / ROTATION_MIN_NEXT_AGE_SECONDS) - 1);
    expect(kids.size).toBe(rotations + 1);
  }, 120_000);

  it('two instances rotating at once: the check is inside the store transaction, so exactly one passes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-rotation-race-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const clock = testClock();
    const options = {
      ...loadConfig({}),
      databaseUrl: `sqlite:${join(dir, 'latchkey.db')}`,
      secret: new Uint8Array(randomBytes(32)),
      keyReloadIntervalMs: 0,
      now: clock.now,
    };
    const a = await createLatchkey(options);
    cleanup.push(() => a.close());
    const b = await createLatchkey(options);
    cleanup.push(() => b.close());
    for (let round = 0; round < 3; round++) {
      clock.advance(MIN_AGE_MS);
      const results = await Promise.allSettled([a.keys.rotate(), b.keys.rotate(), a.keys.rotate(), b.keys.rotate()]);
      expect(
        results.filter((r) => r.status === 'fulfilled'),
        `round ${round}`,
      ).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(KeyRotationTooSoonError);
    }
  });

  it('latchkey keys rotate: refused on one line with exit 1 while too soon; --force rotates', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'latchkey-rotate-cli-'));
    cleanup.push(() => rm(cwd, { recursive: true, force: true }));
    const env = { LATCHKEY_DATABASE_URL: `sqlite:${join(cwd, 'latchkey.db')}` };
    const opened = await createLatchkey({ ...loadConfig(env), databaseUrl: env.LATCHKEY_DATABASE_URL, keyReloadIntervalMs: 0 });
    await opened.close();
    const tooSoon = await runCli(['keys', 'rotate'], { cwd, env });
    expect(tooSoon.code).toBe(1);
    expect(tooSoon.stdout).toBe('');
    expect(tooSoon.stderr.trim().split('\n')).toHaveLength(1);
    expect(tooSoon.stderr).toMatch(/^latchkey: KEY_ROTATION_TOO_SOON: .*rotating is allowed from \d{4}-\d\d-\d\dT/);
    const forced = await runCli(['keys', 'rotate', '--force'], { cwd, env });
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ kid: expect.any(String), previous: expect.any(String) });
    expect((await runCli(['keys', 'rotate'], { cwd, env })).code).toBe(1);
    expect((await runCli(['keys', 'rotate', '--now'], { cwd, env })).code).toBe(2);
  }, 60_000);
});
