/** `latchkey user import`: users of a classic Express + bcrypt app, imported and able to sign in. */
import type { IssuedTokens } from '../../src/auth/service.js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { runCli } from '../helpers/cli.js';
import { createLatchkey } from '../../src/latchkey.js';
import { parseUserImport } from '../../src/auth/import-users.js';

const ctx = { ip: null, userAgent: null };

describe('latchkey user import', () => {
  let dir: string;
  let env: Record<string, string>;
  const aliceHash = bcrypt.hashSync('alice in wonderland', 10);
  const bobHash = bcrypt.hashSync('bob the builder!', 4);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'latchkey-import-'));
    env = { LATCHKEY_DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, LATCHKEY_SECRET: randomBytes(32).toString('base64url') };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const open = () =>
    createLatchkey({ databaseUrl: env.LATCHKEY_DATABASE_URL, secret: Buffer.from(env.LATCHKEY_SECRET!, 'base64url'), keyReloadIntervalMs: 0 });

  it('an invalid line stops the whole import: line numbers and reasons, never the secret', async () => {
    const file = join(dir, 'bad.jsonl');
    await writeFile(
      file,
      [
        JSON.stringify({ email: 'alice@example.com', passwordHash: aliceHash }),
        '{"email": ',
        JSON.stringify({ email: 'carol@example.com', passwordHash: 'md5:5f4dcc3b5aa765d61d8327deb882cf99' }),
        JSON.stringify({ email: 'dave@example.com', password: 'short' }),
        JSON.stringify({ email: 'ALICE@example.com', passwordHash: aliceHash }),
        JSON.stringify({ email: 'eve@example.com' }),
      ].join('\n'),
    );
    const result = await runCli(['user', 'import', '--file', file], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^line 2: INVALID_JSON/m);
    expect(result.stderr).toMatch(/^line 3: UNSUPPORTED_HASH/m);
    expect(result.stderr).toMatch(/^line 4: WEAK_PASSWORD/m);
    expect(result.stderr).toMatch(/^line 5: DUPLICATE_IN_FILE: The e-mail already appears on line 1\./m);
    expect(result.stderr).toMatch(/^line 6: VALIDATION_FAILED/m);
    expect(result.stderr).toMatch(/nothing was imported/);
    for (const secret of [aliceHash, '5f4dcc3b', 'short']) expect(result.stdout + result.stderr).not.toContain(secret);
    expect(JSON.parse(result.stdout)).toMatchObject({ imported: 0, rejected: 5, valid: 1 });
    const latchkey = await open();
    try {
      expect(await latchkey.store.findUserByEmail('alice@example.com')).toBeUndefined();
    } finally {
      await latchkey.close();
    }
  });

  it('imports bcrypt hashes as-is; login works and upgrades the hash to argon2id; a re-run skips existing users', async () => {
    const file = join(dir, 'users.jsonl');
    const lines = [
      JSON.stringify({ email: ' Alice@Example.com ', passwordHash: aliceHash, role: 'admin', name: 'ignored' }),
      '',
      JSON.stringify({ email: 'bob@example.com', passwordHash: bobHash }),
      JSON.stringify({ email: 'carol@example.com', password: 'carol sings loudly' }),
    ];
    await writeFile(file, `${lines.join('\r\n')}\n`);
    const dry = await runCli(['user', 'import', '--file', file, '--dry-run'], { env });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ valid: 3, dryRun: true });

    // The database does not exist yet: created on request (test/cli/no-database.test.ts).
    const result = await runCli(['user', 'import', '--file', file, '--create-database'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ imported: 3, skipped: 0, rejected: 0 });

    const latchkey = await open();
    try {
      const alice = (await latchkey.store.findUserByEmail('alice@example.com'))!;
      expect(alice).toMatchObject({ role: 'admin', passwordHash: aliceHash });
      await expect(latchkey.auth.login('alice@example.com', 'wrong password', ctx)).rejects.toMatchObject({ code: 'INVALID_CREDENTIALS' });
      const tokens = (await latchkey.auth.login('alice@example.com', 'alice in wonderland', ctx)) as IssuedTokens;
      const principal = latchkey.auth.authenticate(tokens.accessToken);
      expect(principal.ok && principal.principal.role).toBe('admin');
      expect((await latchkey.store.findUserByEmail('alice@example.com'))!.passwordHash).toMatch(/^\$argon2id\$/);
      await latchkey.auth.login('alice@example.com', 'alice in wonderland', ctx); // the upgraded hash verifies too
      await latchkey.auth.login('bob@example.com', 'bob the builder!', ctx);
      expect((await latchkey.store.findUserByEmail('carol@example.com'))!.passwordHash).toMatch(/^\$argon2id\$/);
      await latchkey.auth.login('carol@example.com', 'carol sings loudly', ctx);
    } finally {
      await latchkey.close();
    }

    const again = await runCli(['user', 'import', '--file', file], { env });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ imported: 0, skipped: 3, rejected: 0 });
    expect(again.stderr).toMatch(/^line 1: EMAIL_TAKEN/m);
  });

  it('reads stdin with --file -, and usage errors exit 2', async () => {
    const result = await runCli(['user', 'import', '--file', '-', '--dry-run'], {
      env,
      stdin: JSON.stringify({ email: 'z@example.com', passwordHash: bobHash }),
    });
    expect(result.code).toBe(0);
    expect((await runCli(['user', 'import'], { env })).code).toBe(2);
    expect((await runCli(['user', 'import', '--file', join(dir, 'missing.jsonl')], { env })).code).toBe(2);
  });

  it('validates hashes strictly: bcrypt costs 04–31 with 53 characters, argon2id in PHC form', () => {
    const line = (passwordHash: string) => JSON.stringify({ email: 'a@example.com', passwordHash });
    expect(parseUserImport(line(aliceHash)).problems).toEqual([]);
    expect(parseUserImport(line(aliceHash.replace('$10$', '$03$'))).problems[0]?.code).toBe('UNSUPPORTED_HASH');
    expect(parseUserImport(line(aliceHash.slice(0, -1))).problems[0]?.code).toBe('UNSUPPORTED_HASH');
    expect(
      parseUserImport(line('$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3Jm4L2bKIB1P9yiFNdc7NFGTv3VLzhp1TdhUrFPmAcU')).problems,
    ).toEqual([]);
    expect(parseUserImport(line('$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo')).problems[0]?.code).toBe('UNSUPPORTED_HASH');
    expect(parseUserImport(JSON.stringify({ email: 'a@example.com', passwordHash: aliceHash, password: 'both of them' })).problems[0]?.code).toBe(
      'VALIDATION_FAILED',
    );
    expect(parseUserImport(JSON.stringify({ email: 'a@example.com', password: 'fine password', role: 'x y' })).problems[0]?.code).toBe(
      'VALIDATION_FAILED',
    );
    expect(parseUserImport('[1]').problems[0]?.code).toBe('INVALID_JSON');
  });
});
