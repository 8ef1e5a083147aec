/**
 * `latchkey user list|show|set-role|disable|enable|delete|set-password` (docs/admin.md#command-line),
 * run as the real CLI against a fresh SQLite server directory and checked through the service:
 * the changes take effect (a disabled account's refresh tokens die, the role reaches the next
 * token, a new password revokes every session), are audited with actor `cli`, and hostile input
 * (an unknown or 10 KB address, a wrong LATCHKEY_SECRET, no terminal for a delete) gives one line
 * and a documented exit code, never a stack trace.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IssuedTokens } from '../../src/auth/service.js';
import { createLatchkey } from '../../src/latchkey.js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { BIN, runCli, TSX, type CliResult } from '../helpers/cli.js';
import { serviceAvailable } from '../helpers/services.js';

const haveScript = serviceAvailable('script', existsSync('/usr/bin/script') ? undefined : 'script(1) not found at /usr/bin/script (util-linux)');
const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

const PASSWORD = 'a long enough passphrase';
const ctx = { ip: null, userAgent: null };

/** One line on stderr, no stack frame. */
function expectOneLine(result: CliResult, code: number, pattern: RegExp) {
  expect(result.code).toBe(code);
  expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr.length).toBeLessThan(400);
}

describe('user administration commands', () => {
  let dir: string;
  let env: Record<string, string>;
  const cli = (args: string[], stdin?: string) => runCli(['user', ...args], { env, cwd: dir, ...(stdin === undefined ? {} : { stdin }) });
  const open = () =>
    createLatchkey({
      databaseUrl: `sqlite:${join(dir, 'data', 'latchkey.db')}`,
      secret: Buffer.from(env.LATCHKEY_SECRET!, 'base64url'),
      keyReloadIntervalMs: 0,
      mailWorker: false,
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-user-admin-'));
    env = { LATCHKEY_DATABASE_URL: 'sqlite:data/latchkey.db', LATCHKEY_SECRET: randomBytes(32).toString('base64url') };
    const first = await cli(['create', '--email', 'root@example.com', '--password-stdin', '--role', 'admin', '--create-database'], PASSWORD);
    expect(first.code).toBe(0);
    for (const email of ['alice@example.com', 'Bob@Example.com'])
      expect((await cli(['create', '--email', email, '--password-stdin'], PASSWORD)).code).toBe(0);
  }, 60_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('list --json prints one array in creation order; --query filters; the table has a header', async () => {
    const json = await cli(['list', '--json']);
    expect(json.code).toBe(0);
    const users = JSON.parse(json.stdout);
    expect(users.map((u: { email: string }) => u.email)).toEqual(['root@example.com', 'alice@example.com', 'bob@example.com']);
    expect(users[0]).toEqual({
      id: expect.any(String),
      email: 'root@example.com',
      role: 'admin',
      disabled: false,
      emailVerified: false,
      createdAt: expect.any(String),
    });
    const found = await cli(['list', '--query', 'ALI', '--json']);
    expect(JSON.parse(found.stdout).map((u: { email: string }) => u.email)).toEqual(['alice@example.com']);
    const table = await cli(['list']);
    expect(table.stdout.split('\n')[0]).toMatch(/^EMAIL\s+ROLE\s+STATUS\s+VERIFIED\s+CREATED\s+ID$/);
    expect(table.stdout).toMatch(/bob@example\.com\s+user\s+active\s+no/);
    expect(table.stderr).toBe('3 user(s)\n');
    expect((await cli(['list', 'extra'])).code).toBe(2);
  }, 60_000);

  it('show prints the account with its sessions and factors as JSON', async () => {
    const latchkey = await open();
    await latchkey.auth.login('alice@example.com', PASSWORD, { ip: '198.51.100.4', userAgent: 'ShowAgent/2' });
    await latchkey.close();
    const result = await cli(['show', 'Alice@Example.com']);
    expect(result.code).toBe(0);
    const detail = JSON.parse(result.stdout);
    expect(detail.user).toMatchObject({ email: 'alice@example.com', role: 'user' });
    expect(detail.sessions).toEqual([expect.objectContaining({ ip: '198.51.100.4', userAgent: 'ShowAgent/2', acr: 'aal1' })]);
    expect(detail.factors).toEqual([]);
  });

  it('set-role reaches the next token; disable kills every refresh token and login says ACCOUNT_DISABLED; enable; all audited as cli', async () => {
    let latchkey = await open();
    const before = (await latchkey.auth.login('bob@example.com', PASSWORD, ctx)) as IssuedTokens;
    await latchkey.close();
    const role = await cli(['set-role', 'bob@example.com', 'support:l2']);
    expect(role.code).toBe(0);
    expect(JSON.parse(role.stdout).user.role).toBe('support:l2');
    expect((await cli(['disable', 'bob@example.com'])).code).toBe(0);
    latchkey = await open();
    try {
      expect(await latchkey.auth.refresh(before.refreshToken, ctx)).toEqual({ ok: false, code: 'INVALID_REFRESH_TOKEN' });
      await expect(latchkey.auth.login('bob@example.com', PASSWORD, ctx)).rejects.toMatchObject({ code: 'ACCOUNT_DISABLED' });
      await expect(latchkey.auth.login('bob@example.com', 'wrong but long enough', ctx)).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
    } finally {
      await latchkey.close();
    }
    expect(JSON.parse((await cli(['enable', 'bob@example.com'])).stdout).user.disabled).toBe(false);
    latchkey = await open();
    try {
      const after = (await latchkey.auth.login('bob@example.com', PASSWORD, ctx)) as IssuedTokens;
      const principal = latchkey.auth.authenticate(after.accessToken);
      expect(principal.ok && principal.principal.role).toBe('support:l2');
      const bob = (await latchkey.store.findUserByEmail('bob@example.com'))!;
      const events = await latchkey.store.queryAudit({ userId: bob.id, actorId: 'cli', limit: 10 });
      expect(events.map((e) => e.type)).toEqual(['admin_user_enabled', 'admin_user_disabled', 'admin_role_changed']);
    } finally {
      await latchkey.close();
    }
  }, 60_000);

  it('set-password reads stdin, applies the policy and revokes every session', async () => {
    let latchkey = await open();
    const tokens = (await latchkey.auth.login('alice@example.com', PASSWORD, ctx)) as IssuedTokens;
    await latchkey.close();
    expectOneLine(await cli(['set-password', 'alice@example.com', '--password-stdin'], 'short'), 1, /^latchkey: WEAK_PASSWORD: /);
    expect((await cli(['set-password', 'alice@example.com'])).code).toBe(2);
    const result = await cli(['set-password', 'alice@example.com', '--password-stdin'], 'the new passphrase here\n');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).revokedSessions).toBeGreaterThanOrEqual(2);
    latchkey = await open();
    try {
      expect(await latchkey.auth.refresh(tokens.refreshToken, ctx)).toEqual({ ok: false, code: 'INVALID_REFRESH_TOKEN' });
      expect('accessToken' in (await latchkey.auth.login('alice@example.com', 'the new passphrase here', ctx))).toBe(true);
    } finally {
      await latchkey.close();
    }
  }, 60_000);

  it('delete without --yes and without a terminal refuses (exit 2, nothing deleted); with --yes it deletes', async () => {
    expectOneLine(await cli(['delete', 'alice@example.com']), 2, /not a terminal: pass --yes/);
    expect(JSON.parse((await cli(['list', '--json'])).stdout)).toHaveLength(3);
    const result = await cli(['delete', 'alice@example.com', '--yes']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ deleted: expect.any(String) });
    expectOneLine(await cli(['show', 'alice@example.com']), 1, /^latchkey: NOT_FOUND: No such user\.$/m);
  }, 60_000);

  it.runIf(haveScript)(
    'delete on a terminal asks for the address: a wrong answer deletes nothing (exit 1), the right one deletes',
    async () => {
      /** `user delete E` on a pseudo-terminal (script(1)), answering `answer`. */
      const onTerminal = (email: string, answer: string) =>
        new Promise<{ code: number | null; output: string }>((resolve) => {
          const command = [process.execPath, '--import', TSX, BIN, 'user', 'delete', email].map(quote).join(' ');
          const child = spawn('script', ['-qfec', command, '/dev/null'], {
            cwd: dir,
            env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'dumb', ...env },
            stdio: ['pipe', 'pipe', 'pipe'],
          });
          let output = '';
          child.stdout.on('data', (d) => {
            output += d;
            if (output.includes('Type the address again to confirm:')) child.stdin.write(`${answer}\n`);
          });
          child.stderr.on('data', (d) => (output += d));
          child.on('close', (code) => resolve({ code, output }));
        });
      expect((await cli(['create', '--email', 'tty@example.com', '--password-stdin'], PASSWORD)).code).toBe(0);
      const refused = await onTerminal('tty@example.com', 'someone-else@example.com');
      expect(refused.output).toContain('Delete tty@example.com and everything it owns?');
      expect(refused.output).toContain('not confirmed; nothing was deleted');
      expect(refused.code).toBe(1);
      expect((await cli(['show', 'tty@example.com'])).code).toBe(0);
      const confirmed = await onTerminal('tty@example.com', 'TTY@example.com');
      expect(confirmed.code).toBe(0);
      expect(confirmed.output).toContain('"deleted"');
      expect((await cli(['show', 'tty@example.com'])).code).toBe(1);
    },
    60_000,
  );

  it('hostile input: unknown and 10 KB addresses exit 1, a bad role or the last admin exit 1, usage errors exit 2, a wrong secret exits 1 — one line each', async () => {
    expectOneLine(await cli(['show', 'nobody@example.com']), 1, /^latchkey: NOT_FOUND: No such user\.\n$/);
    const huge = `${'a'.repeat(10 * 1024)}@example.com`;
    for (const command of ['show', 'disable', 'enable']) expectOneLine(await cli([command, huge]), 1, /^latchkey: NOT_FOUND: No such user\.\n$/);
    expectOneLine(await cli(['set-role', huge, 'x']), 1, /NOT_FOUND/);
    expectOneLine(await cli(['set-role', 'bob@example.com', 'not a role']), 1, /^latchkey: VALIDATION_FAILED: role must be/);
    expectOneLine(await cli(['disable', 'root@example.com']), 1, /^latchkey: LAST_ADMIN: /);
    expectOneLine(await cli(['set-role', 'root@example.com', 'user']), 1, /LAST_ADMIN/);
    expectOneLine(await cli(['delete', 'root@example.com', '--yes']), 1, /LAST_ADMIN/);
    expect((await cli(['set-role', 'bob@example.com'])).code).toBe(2);
    expect((await cli(['show'])).code).toBe(2);
    expect((await cli(['disable', 'a@example.com', '--force'])).code).toBe(2);
    const wrongSecret = await runCli(['user', 'show', 'bob@example.com'], {
      env: { ...env, LATCHKEY_SECRET: randomBytes(32).toString('base64url') },
      cwd: dir,
    });
    expectOneLine(wrongSecret, 1, /^latchkey: KEY_UNSEAL_FAILED: .*LATCHKEY_SECRET/);
    const badSecret = await runCli(['user', 'list'], { env: { ...env, LATCHKEY_SECRET: 'short' }, cwd: dir });
    expectOneLine(badSecret, 2, /^latchkey: invalid configuration: LATCHKEY_SECRET/);
    expect(JSON.parse((await cli(['list', '--json'])).stdout).find((u: { email: string }) => u.email === 'root@example.com')).toMatchObject({
      role: 'admin',
      disabled: false,
    });
  }, 120_000);
});
