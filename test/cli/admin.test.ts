/** Admin commands against a real SQLite database, checked through the service itself. */
import type { IssuedTokens } from '../../src/auth/service.js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCli } from '../helpers/cli.js';
import { createLatchkey } from '../../src/latchkey.js';

describe('admin commands', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-admin-'));
    env = { LATCHKEY_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_SECRET: randomBytes(32).toString('base64url') };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const open = () =>
    createLatchkey({ databaseUrl: env.LATCHKEY_DATABASE_URL, secret: Buffer.from(env.LATCHKEY_SECRET!, 'base64url'), keyReloadIntervalMs: 0 });

  it('user create reads the password from stdin (one trailing newline ignored) and sets the role', async () => {
    // The first command against a new database creates it on request (test/cli/no-database.test.ts).
    const result = await runCli(['user', 'create', '--email', 'Admin@Example.com', '--password-stdin', '--role', 'admin', '--create-database'], {
      env,
      stdin: 'an admin passphrase\n',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ email: 'admin@example.com', role: 'admin' });
    const latchkey = await open();
    try {
      const tokens = (await latchkey.auth.login('admin@example.com', 'an admin passphrase', { ip: null, userAgent: null })) as IssuedTokens;
      const principal = latchkey.auth.authenticate(tokens.accessToken);
      expect(principal.ok && principal.principal.role).toBe('admin');
    } finally {
      await latchkey.close();
    }
  });

  it('user create refuses a weak password and a duplicate, exit 1, and usage errors exit 2', async () => {
    expect((await runCli(['user', 'create', '--email', 'x@example.com', '--password-stdin'], { env, stdin: 'short' })).code).toBe(1);
    const dup = await runCli(['user', 'create', '--email', 'admin@example.com', '--password-stdin'], { env, stdin: 'another passphrase' });
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('EMAIL_TAKEN');
    expect((await runCli(['user', 'create', '--email', 'x@example.com', '--password', 'argv-secret'], { env })).code).toBe(2);
    expect((await runCli(['user'], { env })).code).toBe(2);
  });

  it('keys rotate: the published next key signs; the old one keeps verifying its tokens', async () => {
    let latchkey = await open();
    const before = latchkey.keys.signingKey.kid;
    const publishedBefore = latchkey.keys.jwks().keys.map((k) => k.kid);
    const tokens = (await latchkey.auth.login('admin@example.com', 'an admin passphrase', { ip: null, userAgent: null })) as IssuedTokens;
    await latchkey.close();
    const result = await runCli(['keys', 'rotate', '--force'], { env }); // the next key is seconds old
    expect(result.code).toBe(0);
    const { kid, previous } = JSON.parse(result.stdout);
    expect(previous).toBe(before);
    latchkey = await open();
    try {
      expect(latchkey.keys.signingKey.kid).toBe(kid);
      expect(publishedBefore).toContain(kid);
      const published = latchkey.keys.jwks().keys.map((k) => k.kid);
      expect(published).toHaveLength(3);
      expect(published).toEqual(expect.arrayContaining([before, kid]));
      expect(latchkey.auth.authenticate(tokens.accessToken).ok).toBe(true);
    } finally {
      await latchkey.close();
    }
  });

  it('sessions revoke --email signs the user out everywhere', async () => {
    let latchkey = await open();
    const tokens = (await latchkey.auth.login('admin@example.com', 'an admin passphrase', { ip: null, userAgent: null })) as IssuedTokens;
    await latchkey.close();
    const result = await runCli(['sessions', 'revoke', '--email', 'admin@example.com'], { env });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).revoked).toBeGreaterThanOrEqual(1);
    latchkey = await open();
    try {
      const refreshed = await latchkey.auth.refresh(tokens.refreshToken, { ip: null, userAgent: null });
      expect(refreshed).toEqual({ ok: false, code: 'INVALID_REFRESH_TOKEN' });
    } finally {
      await latchkey.close();
    }
    expect((await runCli(['sessions', 'revoke', '--email', 'nobody@example.com'], { env })).code).toBe(1);
  });
});
