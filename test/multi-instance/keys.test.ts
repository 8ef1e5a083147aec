/**
 * Signing keys shared through the database, in-process (two services on one PostgreSQL
 * schema, background reloads off so nothing but the unknown-`kid` path can teach the second
 * one): a token signed with a key rotated elsewhere verifies at once, junk `kid`s cost at
 * most one store read per cooldown, and a reload during an outage keeps the loaded keys.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it, onTestFinished } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { describePostgres } from '../helpers/postgres.js';
import { KeyRing, UNKNOWN_KID_COOLDOWN_MS } from '../../src/keys/keyring.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { createStore } from '../../src/store/index.js';
import { kidOf, PASSWORD } from './instances.js';
import { signUp } from '../http/contract.js';

await describePostgres('signing keys shared through PostgreSQL', () => {
  let first: TestServer;
  let second: TestServer;

  beforeAll(async () => {
    const secret = new Uint8Array(randomBytes(32));
    first = await startTestServer({ postgres: true, secret, keyReloadIntervalMs: 0 });
    second = await startTestServer({ databaseUrl: first.latchkey.config.databaseUrl, secret, keyReloadIntervalMs: 0 });
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('a token signed with a key rotated on another instance verifies at once: the promoted key was published as `next` before it signed', async () => {
    const user = await signUp(first.client, undefined, PASSWORD);
    const previous = first.latchkey.keys.signingKey.kid;
    const publishedBefore = (await second.client.get('/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    const kid = await first.latchkey.keys.rotate({ force: true }); // seconds after start-up: past the age rule
    // The key that signs now was already in the other instance's JWKS before the rotation.
    expect(publishedBefore).toEqual(expect.arrayContaining([previous, kid]));
    const login = await first.client.post('/auth/login', { body: { email: user.email, password: PASSWORD } });
    expect(kidOf(login.body.accessToken)).toBe(kid);
    // `second` has not reloaded: it still signs with the previous key…
    expect(second.latchkey.keys.signingKey.kid).toBe(previous);
    // …and accepts the new key's token without reading the store at all.
    const store = second.latchkey.store;
    let reads = 0;
    const original = store.listSigningKeys.bind(store);
    store.listSigningKeys = (now: number) => {
      reads++;
      return original(now);
    };
    onTestFinished(() => {
      store.listSigningKeys = original;
    });
    expect((await second.client.get('/auth/me', { bearer: login.body.accessToken })).status).toBe(200);
    expect(reads).toBe(0);
    // Its next reload makes it sign with the new key and publish the fresh `next` one.
    await second.latchkey.keys.reload();
    expect(second.latchkey.keys.signingKey.kid).toBe(kid);
    const kids = (await second.client.get('/.well-known/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect(kids).toHaveLength(3);
    expect(kids).toEqual(expect.arrayContaining([kid, previous]));
  });

  it('unknown kids: still 401 INVALID_TOKEN, and a burst of them costs at most one store read per cooldown', async () => {
    const store = second.latchkey.store;
    let reads = 0;
    const original = store.listSigningKeys.bind(store);
    store.listSigningKeys = (now: number) => {
      reads++;
      return original(now);
    };
    onTestFinished(() => {
      store.listSigningKeys = original;
    });
    const forge = (kid: string) =>
      [Buffer.from(JSON.stringify({ alg: 'ES256', kid, typ: 'at+jwt' })).toString('base64url'), Buffer.from('{}').toString('base64url'), 'AAAA'].join(
        '.',
      );
    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => second.client.get('/auth/me', { bearer: forge(`junk-${i}`) })));
    const elapsed = performance.now() - started;
    for (const r of responses) expect({ status: r.status, error: r.body.error }).toEqual({ status: 401, error: 'INVALID_TOKEN' });
    // One shared read (plus at most one more for callers that joined a read already under way).
    expect(reads).toBeLessThanOrEqual(Math.ceil(elapsed / UNKNOWN_KID_COOLDOWN_MS) + 2);
    expect(reads).toBeLessThanOrEqual(6);
  });
});

it('a background key reload during a database outage keeps the loaded keys and reports the failure', async () => {
  const store = await createStore({ url: 'sqlite::memory:' });
  onTestFinished(() => store.close());
  await store.migrate();
  let down = false;
  const original = store.listSigningKeys.bind(store);
  store.listSigningKeys = (now: number) => (down ? Promise.reject(new StoreUnavailableError()) : original(now));
  const warnings: object[] = [];
  const ring = await KeyRing.open({
    store,
    keyEncryptionKey: randomBytes(32),
    alg: 'ES256',
    accessTokenTtl: 900,
    reloadIntervalMs: 20,
    logger: { warn: (obj) => warnings.push(obj) },
  });
  onTestFinished(() => ring.close());
  const before = ring.signingKey.kid;
  down = true;
  await new Promise((resolve) => setTimeout(resolve, 150));
  expect(warnings.length).toBeGreaterThan(0);
  expect(warnings[0]).toMatchObject({ err: { code: 'UNAVAILABLE' } });
  expect(ring.signingKey.kid).toBe(before);
  expect(ring.jwks().keys.map((k) => k.kid)).toContain(before);
  await expect(ring.ensureKid('unknown')).rejects.toBeInstanceOf(StoreUnavailableError);
  down = false;
  expect(await ring.ensureKid(before)).toBe(true);
  expect(await ring.ensureKid('still-unknown')).toBe(false);
});
