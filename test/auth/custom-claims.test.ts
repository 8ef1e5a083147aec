/**
 * Custom claims (docs/embedding.md#custom-claims): added at login and every refresh (a change
 * reaches the next refresh), never over Latchkey's own; reserved names refused at start-up when
 * declared, and at the mint for names a function returns (CLAIMS_INVALID: 500, no token, no
 * session left behind by a login).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLatchkey, RESERVED_CLAIMS } from '../../src/index.js';
import { ConfigError } from '../../src/errors.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { expectError, PASSWORD } from '../http/contract.js';

const BODY = { 'x-latchkey-transport': 'body' };
const claimsOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

describe('custom claims at start-up', () => {
  it('refuses a claims option that is not a function or {names, value}', async () => {
    for (const claims of ['org', 42, { names: ['org'] }, { value: () => ({}) }, null]) {
      const error = await createLatchkey({ databaseUrl: 'sqlite::memory:', claims: claims as never }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ code: 'CONFIG_INVALID', variable: 'claims', reason: 'type' });
    }
  });

  it.each(RESERVED_CLAIMS)('refuses the declared reserved name %s with a ConfigError naming it', async (name) => {
    const error = await createLatchkey({ databaseUrl: 'sqlite::memory:', claims: { names: ['org', name], value: () => ({}) } }).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', variable: 'claims.names', reason: 'format' });
    expect((error as Error).message).toContain(`"${name}"`);
  });

  it('refuses malformed declared names; accepts good ones', async () => {
    for (const name of ['', '1org', 'has space', 'x'.repeat(65), '-dash']) {
      const error = await createLatchkey({ databaseUrl: 'sqlite::memory:', claims: { names: [name], value: () => ({}) } }).catch((e: unknown) => e);
      expect(error, name).toMatchObject({ code: 'CONFIG_INVALID', variable: 'claims.names' });
    }
    const latchkey = await createLatchkey({ databaseUrl: 'sqlite::memory:', claims: { names: ['org', 'tenant_id', 'x.y:z'], value: () => ({}) } });
    await latchkey.close();
  });
});

describe('custom claims in tokens', () => {
  let t: TestServer;
  /** What the claims function answers, per e-mail; a missing entry answers {org, plan}. */
  const behaviour = new Map<string, () => unknown>();
  const seen: Array<{ id: string; email: string; role: string; emailVerified: boolean }> = [];

  beforeAll(async () => {
    t = await startTestServer({
      claims: async (user) => {
        seen.push(user);
        const special = behaviour.get(user.email);
        if (special) return special() as Record<string, unknown>;
        return { org: `org-of-${user.role}`, plan: 'pro', nested: { seats: 5, tags: ['a', 'b'] } };
      },
    });
  });
  afterAll(() => t?.close());

  async function newUser() {
    const email = `claims-${randomUUID()}@example.com`;
    await t.latchkey.auth.createUser(email, PASSWORD);
    return email;
  }
  const login = (email: string) => t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: BODY });

  it('adds the claims at login and re-reads them at every refresh; Latchkey claims are intact', async () => {
    const email = await newUser();
    const res = await login(email);
    expect(res.status).toBe(200);
    const claims = claimsOf(res.body.accessToken);
    expect(claims).toMatchObject({
      org: 'org-of-user',
      plan: 'pro',
      nested: { seats: 5, tags: ['a', 'b'] },
      role: 'user',
      iss: 'http://localhost:3000',
    });
    expect(typeof claims.sub).toBe('string');
    expect(seen.at(-1)).toEqual({ id: claims.sub, email, role: 'user', emailVerified: false });
    // An admin changes the role: the next refresh has the new role and the claims computed from it.
    await t.latchkey.auth.admin.updateUser(claims.sub as string, { role: 'editor' }, { actorId: 'cli', ip: null });
    const refreshed = await t.client.post('/auth/refresh', { body: { refreshToken: res.body.refreshToken }, headers: BODY });
    expect(refreshed.status).toBe(200);
    expect(claimsOf(refreshed.body.accessToken)).toMatchObject({ role: 'editor', org: 'org-of-editor', sid: claims.sid });
    // requireAuth's principal carries them.
    const auth = await t.latchkey.auth.authenticateFresh(refreshed.body.accessToken);
    expect(auth.ok && auth.principal.claims.org).toBe('org-of-editor');
  });

  it.each([
    ['a reserved name', () => ({ org: 'x', sub: 'someone-else' })],
    ['another reserved name', () => ({ role: 'admin' })],
    ['a malformed name', () => ({ 'bad name': 1 })],
    ['an array', () => ['org']],
    ['null', () => null],
    ['a class instance', () => new Date()],
    ['over 4 KiB', () => ({ big: 'x'.repeat(5000) })],
    ['a BigInt (not JSON)', () => ({ n: 10n })],
    [
      'a throwing function',
      () => {
        throw new Error('directory down');
      },
    ],
  ])('%s at the mint: 500 INTERNAL, no token, no session left behind', async (_label, answer) => {
    const email = await newUser();
    behaviour.set(email, answer);
    const res = await login(email);
    expectError(res, 500, 'INTERNAL');
    expect(res.body.accessToken).toBeUndefined();
    expect(res.text).not.toMatch(/someone-else|directory down|sub/);
    const user = (await t.latchkey.store.findUserByEmail(email))!;
    expect(await t.latchkey.store.listActiveSessions(user.id, t.clock.now())).toEqual([]);
  });

  it('a refresh whose claims fail answers 500 and the grace window lets the client retry', async () => {
    const email = await newUser();
    const res = await login(email);
    behaviour.set(email, () => ({ scope: 'admin:all' }));
    expectError(await t.client.post('/auth/refresh', { body: { refreshToken: res.body.refreshToken }, headers: BODY }), 500, 'INTERNAL');
    behaviour.delete(email);
    const retry = await t.client.post('/auth/refresh', { body: { refreshToken: res.body.refreshToken }, headers: BODY });
    expect(retry.status).toBe(200);
    expect(claimsOf(retry.body.accessToken)).toMatchObject({ plan: 'pro' });
    expect(claimsOf(retry.body.accessToken).scope).toBeUndefined();
  });
});

describe('declared names at the mint', () => {
  it('a name outside the declared names is refused when minting', async () => {
    const t = await startTestServer({ claims: { names: ['org'], value: () => ({ org: 'acme', extra: true }) } });
    try {
      const email = `declared-${randomUUID()}@example.com`;
      await t.latchkey.auth.createUser(email, PASSWORD);
      expectError(await t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: BODY }), 500, 'INTERNAL');
    } finally {
      await t.close();
    }
  });
});
