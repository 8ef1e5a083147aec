/**
 * Admin commands run in the wrong directory (or with the wrong LATCHKEY_DATABASE_URL) must not
 * quietly create a new database with a new master secret and act on it: `latchkey keys rotate`
 * in an empty folder used to create ./data, "rotate" a key nobody uses and exit 0. They refuse
 * with exit 2 and one line naming what is missing and how to create it; `latchkey serve` (and
 * `user create|import --create-database`, for bootstrapping) still create it. Real processes.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliResult } from '../helpers/cli.js';

const dirs: string[] = [];
async function emptyDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-nodb-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

function expectRefusal(result: CliResult, what: string, missing: RegExp): void {
  expect(result.code, `${what}: ${result.stderr}`).toBe(2);
  expect(result.stdout, what).toBe('');
  const lines = result.stderr.split('\n').filter(Boolean);
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toMatch(missing);
  expect(lines[0], what).toMatch(/latchkey serve/);
}

const PASSWORD = 'correct horse battery staple';

describe('admin commands refuse to create a database', () => {
  it('keys rotate, sessions revoke, audit tail, user create and user import in an empty directory: exit 2, one line, nothing created', async () => {
    const cwd = await emptyDir();
    await writeFile(join(cwd, 'users.jsonl'), `${JSON.stringify({ email: 'import@example.com', password: PASSWORD })}\n`);
    const commands: Array<[string, string[], string?]> = [
      ['keys rotate', ['keys', 'rotate']],
      ['sessions revoke', ['sessions', 'revoke', '--email', 'someone@example.com']],
      ['audit tail', ['audit', 'tail']],
      ['user create', ['user', 'create', '--email', 'admin@example.com', '--password-stdin'], PASSWORD],
      ['user import', ['user', 'import', '--file', 'users.jsonl']],
    ];
    const results = await Promise.all(commands.map(([, args, stdin]) => runCli(args, { cwd, ...(stdin ? { stdin } : {}) })));
    results.forEach((result, i) => {
      const [what, args] = commands[i]!;
      expectRefusal(result, what, /no database at .*data\/latchkey\.db.*LATCHKEY_DATABASE_URL/);
      // The user commands say how to create one on purpose; the others have no use for an empty database.
      if (args[0] === 'user') expect(result.stderr, what).toMatch(/--create-database/);
      else expect(result.stderr, what).not.toMatch(/--create-database/);
    });
    expect(await readdir(cwd)).toEqual(['users.jsonl']);
  });

  it('a LATCHKEY_DATABASE_URL naming a file that does not exist is refused the same way', async () => {
    const cwd = await emptyDir();
    const url = `sqlite:${join(cwd, 'typo', 'latchkey.db')}`;
    const result = await runCli(['keys', 'rotate'], { cwd, env: { LATCHKEY_DATABASE_URL: url } });
    expectRefusal(result, 'keys rotate', new RegExp(`no database at ${join(cwd, 'typo', 'latchkey.db')}`));
    expect(await readdir(cwd)).toEqual([]);
  });

  it('user create --create-database bootstraps a new database (0600) with its secret, and the next command finds it', async () => {
    const cwd = await emptyDir();
    const created = await runCli(['user', 'create', '--email', 'admin@example.com', '--password-stdin', '--role', 'admin', '--create-database'], {
      cwd,
      stdin: PASSWORD,
    });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ email: 'admin@example.com', role: 'admin' });
    expect((await stat(join(cwd, 'data', 'latchkey.db'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(cwd, 'data', 'secret'))).mode & 0o777).toBe(0o600);
    const rotated = await runCli(['keys', 'rotate', '--force'], { cwd }); // the next key is seconds old
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
  });

  it('a database whose generated secret file is gone: refused, and no new secret is written beside it', async () => {
    const cwd = await emptyDir();
    expect(
      (await runCli(['user', 'create', '--email', 'a@example.com', '--password-stdin', '--create-database'], { cwd, stdin: PASSWORD })).code,
    ).toBe(0);
    await rm(join(cwd, 'data', 'secret'));
    for (const args of [
      ['keys', 'rotate'],
      ['user', 'create', '--email', 'b@example.com', '--password-stdin', '--create-database'],
    ]) {
      const result = await runCli(args, { cwd, stdin: PASSWORD });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(result.stderr).toMatch(/no secret file at .*data\/secret.*LATCHKEY_SECRET/);
    }
    expect((await readdir(join(cwd, 'data'))).sort()).not.toContain('secret');
  });
});
