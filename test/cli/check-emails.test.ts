/**
 * `latchkey user check-emails` on a database written before the e-mail rule (rows stored only
 * trimmed and lower-cased): accounts that are one address under the rule are reported, never
 * merged; rows stored in another form are reported and, with --fix, rewritten so their owners
 * can sign in; rows the rule refuses are reported. A real process against a real SQLite file.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCli } from '../helpers/cli.js';
import { createLatchkey } from '../../src/latchkey.js';
import { hashPassword } from '../../src/auth/passwords.js';

const PASSWORD = 'correct horse battery staple';

describe('latchkey user check-emails', () => {
  let dir: string;
  let env: Record<string, string>;
  const open = () =>
    createLatchkey({ databaseUrl: env.LATCHKEY_DATABASE_URL, secret: Buffer.from(env.LATCHKEY_SECRET!, 'base64url'), keyReloadIntervalMs: 0 });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-check-emails-'));
    env = { LATCHKEY_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_SECRET: randomBytes(32).toString('base64url') };
    const latchkey = await open();
    try {
      const passwordHash = await hashPassword(PASSWORD);
      // As the old rule (trim + toLowerCase) stored them: straight into the store.
      const rows: Array<[string, string]> = [
        ['u1-nfc', 'jos\u00e9@example.com'],
        ['u2-nfd', 'jose\u0301@example.com'],
        ['u3-idn', 'anna@b\u00fccher.example'],
        ['u4-zwsp', 'eve\u200b@example.com'],
        ['u5-ok', 'ok@example.com'],
      ];
      for (const [id, email] of rows) await latchkey.store.createUser({ id, email, passwordHash, role: 'user', now: Date.now() });
    } finally {
      await latchkey.close();
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const findings = (stdout: string) =>
    stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  it('reports the collision, the row to rewrite and the refused one; exit 1; changes nothing', async () => {
    const result = await runCli(['user', 'check-emails'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(1);
    const lines = findings(result.stdout);
    expect(lines).toContainEqual({
      problem: 'collision',
      address: 'jos\u00e9@example.com',
      accounts: [
        { id: 'u1-nfc', stored: 'jos\u00e9@example.com' },
        { id: 'u2-nfd', stored: 'jose\u0301@example.com' },
      ],
    });
    expect(lines).toContainEqual({
      problem: 'changes',
      id: 'u3-idn',
      stored: 'anna@b\u00fccher.example',
      address: 'anna@xn--bcher-kva.example',
      fixed: false,
    });
    expect(lines).toContainEqual({ problem: 'refused', id: 'u4-zwsp', stored: 'eve\u200b@example.com', reason: 'character' });
    expect(lines.at(-1)).toEqual({ users: 5, collisions: 1, changes: 1, refused: 1, fixed: 0 });
    expect(lines).toHaveLength(4);
    const latchkey = await open();
    try {
      expect((await latchkey.store.findUserById('u3-idn'))?.email).toBe('anna@b\u00fccher.example');
      // Before the fix the owner of the IDN row cannot sign in: the rule looks up the ASCII form.
      await expect(latchkey.auth.login('anna@b\u00fccher.example', PASSWORD, { ip: null, userAgent: null })).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
      });
      // The refused row's owner still can, with the address as stored.
      await expect(latchkey.auth.login('eve\u200b@example.com', PASSWORD, { ip: null, userAgent: null })).resolves.toMatchObject({
        tokenType: 'Bearer',
      });
    } finally {
      await latchkey.close();
    }
  });

  it('--fix rewrites the row that does not collide, never merges the colliding ones; exit 1 while they remain', async () => {
    const result = await runCli(['user', 'check-emails', '--fix'], { env });
    expect(result.code).toBe(1);
    const lines = findings(result.stdout);
    expect(lines).toContainEqual({
      problem: 'changes',
      id: 'u3-idn',
      stored: 'anna@b\u00fccher.example',
      address: 'anna@xn--bcher-kva.example',
      fixed: true,
    });
    expect(lines.at(-1)).toEqual({ users: 5, collisions: 1, changes: 0, refused: 1, fixed: 1 });
    const latchkey = await open();
    try {
      expect((await latchkey.store.findUserById('u3-idn'))?.email).toBe('anna@xn--bcher-kva.example');
      await expect(latchkey.auth.login('anna@b\u00fccher.example', PASSWORD, { ip: null, userAgent: null })).resolves.toMatchObject({
        tokenType: 'Bearer',
      });
      expect((await latchkey.store.findUserById('u1-nfc'))?.email).toBe('jos\u00e9@example.com');
      expect((await latchkey.store.findUserById('u2-nfd'))?.email).toBe('jose\u0301@example.com');
    } finally {
      await latchkey.close();
    }
    const again = await runCli(['user', 'check-emails'], { env });
    expect(findings(again.stdout).at(-1)).toEqual({ users: 5, collisions: 1, changes: 0, refused: 1, fixed: 0 });
  });
});
