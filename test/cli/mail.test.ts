/**
 * `latchkey mail test` and `latchkey mail outbox`, as real processes in a server directory:
 * through a real SMTP server (smtp-server on a loopback port), through the dev outbox, with the
 * SMTP server down (one line, exit 1, no stack), and with bad arguments (exit 2).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let cwd: string;
let smtp: TestSmtp;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'latchkey-mailcli-'));
  smtp = await startSmtp();
  // A server directory: the database and its secret, made the way an operator bootstraps one.
  const created = await runCli(['user', 'create', '--email', 'admin@example.test', '--password-stdin', '--create-database'], {
    cwd,
    stdin: 'correct horse battery staple\n',
  });
  expect(created.code, created.stderr).toBe(0);
}, 60_000);
afterAll(async () => {
  await smtp.stop();
  await rm(cwd, { recursive: true, force: true });
});

describe('latchkey mail', () => {
  it('mail test --to sends through SMTP now and says so', async () => {
    const result = await runCli(['mail', 'test', '--to', 'Ops@Example.test'], { cwd, env: { LATCHKEY_SMTP_URL: smtp.url } });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ sent: true, transport: 'smtp' });
    const [mail] = await smtp.waitFor(1);
    expect(mail!.rcptTo).toEqual(['ops@example.test']);
    expect(mail!.parsed.subject).toBe('Latchkey test mail');
    expect(mail!.parsed.text).toContain('mail delivery works');
  }, 60_000);

  it('without LATCHKEY_SMTP_URL, mail test writes to the outbox and mail outbox lists it', async () => {
    const sent = await runCli(['mail', 'test', '--to', 'dev@example.test'], { cwd });
    expect(sent.code, sent.stderr).toBe(0);
    const { transport, file } = JSON.parse(sent.stdout) as { transport: string; file: string };
    expect(transport).toBe('outbox');
    expect(file).toMatch(new RegExp(`^${join(cwd, 'data', 'outbox')}/.*-test-.*\\.eml$`));
    const listed = await runCli(['mail', 'outbox', '--json'], { cwd });
    expect(listed.code, listed.stderr).toBe(0);
    const { mails } = JSON.parse(listed.stdout) as { mails: Array<{ file: string; to: string; subject: string }> };
    expect(mails).toContainEqual(expect.objectContaining({ file, to: 'dev@example.test', subject: 'Latchkey test mail' }));
    const text = await runCli(['mail', 'outbox'], { cwd });
    expect(text.stdout).toContain('dev@example.test');
  }, 60_000);

  it('SMTP down: exit 1 and one line with the reason, no stack trace, no password', async () => {
    const down = await startSmtp();
    const url = `smtp://user:hunter2-secret@127.0.0.1:${down.port}`;
    await down.stop();
    const result = await runCli(['mail', 'test', '--to', 'ops@example.test'], { cwd, env: { LATCHKEY_SMTP_URL: url } });
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^latchkey: mail not sent: E[A-Z]+ \(transport smtp\)$/);
    expect(result.stderr).not.toContain('hunter2');
    expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/);
  }, 60_000);

  it('bad arguments: exit 2 with the usage', async () => {
    for (const args of [['mail'], ['mail', 'test'], ['mail', 'test', '--to', 'not an address'], ['mail', 'send'], ['mail', 'outbox', '--nope']]) {
      const result = await runCli(args, { cwd });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
    const outbox = await runCli(['mail', 'outbox'], { cwd, env: { LATCHKEY_SMTP_URL: smtp.url } });
    expect(outbox.code).toBe(2);
  }, 120_000);
});
