/**
 * File modes: the SQLite database (password hashes, addresses, client IPs, the audit trail), its
 * WAL and shared-memory files and the generated master secret are readable by their owner only
 * (0600), whatever the mode of the directory they land in and whatever the umask — another local
 * user must not be able to copy them. A data directory Latchkey creates itself is 0700.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLatchkey } from '../../src/latchkey.js';
import { loadConfig } from '../../src/config/config.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function modesIn(dir: string): Promise<Record<string, string>> {
  const modes: Record<string, string> = {};
  for (const name of await readdir(dir)) modes[name] = ((await stat(join(dir, name))).mode & 0o777).toString(8);
  return modes;
}

/** Opens Latchkey on `<data>/latchkey.db` with no configured secret under `umask`, writes to it, and returns the modes of the files it made. */
async function filesWrittenUnder(umask: number, data: string): Promise<Record<string, string>> {
  const previous = process.umask(umask);
  cleanup.push(async () => void process.umask(previous));
  const latchkey = await createLatchkey({
    ...loadConfig({}),
    databaseUrl: `sqlite:${join(data, 'latchkey.db')}`,
    issuer: 'http://localhost:3000',
    rateLimits: { ...loadConfig({}).rateLimits, enabled: false },
    keyReloadIntervalMs: 0,
  });
  cleanup.push(() => latchkey.close());
  // A write through the WAL: the -wal and -shm files exist while the database is open.
  await latchkey.auth.register('modes@example.com', 'correct horse battery staple', { ip: '127.0.0.1', userAgent: null });
  return modesIn(data);
}

describe('attacks: files with secrets are 0600 whatever the directory and the umask', () => {
  it.each([
    ['022', 0o022],
    ['000', 0o000],
  ])('a pre-existing data directory at 0755, umask %s: database, -wal, -shm and secret are 0600', async (_name, umask) => {
    const root = await mkdtemp(join(tmpdir(), 'latchkey-modes-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const data = join(root, 'data');
    await mkdir(data);
    await chmod(data, 0o755);
    const modes = await filesWrittenUnder(umask, data);
    expect(Object.keys(modes).sort()).toEqual(['latchkey.db', 'latchkey.db-shm', 'latchkey.db-wal', 'secret']);
    for (const [name, mode] of Object.entries(modes)) expect(mode, name).toBe('600');
    // The operator's directory is left as it was.
    expect(((await stat(data)).mode & 0o777).toString(8)).toBe('755');
  });

  it('a data directory Latchkey creates is 0700, even under umask 000', async () => {
    const root = await mkdtemp(join(tmpdir(), 'latchkey-modes-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const data = join(root, 'data');
    const modes = await filesWrittenUnder(0o000, data);
    for (const [name, mode] of Object.entries(modes)) expect(mode, name).toBe('600');
    expect(((await stat(data)).mode & 0o777).toString(8)).toBe('700');
  });

  it('an existing database others can read keeps its mode, and a warning says so', async () => {
    const root = await mkdtemp(join(tmpdir(), 'latchkey-modes-'));
    cleanup.push(() => rm(root, { recursive: true, force: true }));
    const file = join(root, 'latchkey.db');
    await writeFile(file, ''); // an empty file is an empty SQLite database
    await chmod(file, 0o644);
    const warnings: Array<{ obj: object; msg?: string }> = [];
    const log = () => undefined;
    const latchkey = await createLatchkey({
      ...loadConfig({}),
      databaseUrl: `sqlite:${file}`,
      issuer: 'http://localhost:3000',
      keyReloadIntervalMs: 0,
      logger: { debug: log, info: log, error: log, warn: (obj: object, msg?: string) => void warnings.push({ obj, msg }) },
    });
    cleanup.push(() => latchkey.close());
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('644');
    expect(warnings).toContainEqual({ obj: { mode: '644' }, msg: expect.stringMatching(/readable by other users: chmod 600/) });
  });
});
