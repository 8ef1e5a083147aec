/**
 * `latchkey webhooks list` and `latchkey webhooks retry`, as real processes against a server
 * directory's SQLite database holding pending, delivered and dead-lettered deliveries: what they
 * print, the exit codes (0; 1 for an id that is not a dead letter; 2 for bad arguments), and that
 * a retried dead letter is pending again with a fresh series of attempts. A CLI process never
 * switches the outbox off, and its own audited writes reach the outbox while it is on.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStore, type Store } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';

const T0 = Date.UTC(2026, 0, 2, 3, 4, 5);
let cwd: string;
let store: Store;
let ids: number[];

beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'latchkey-hookscli-'));
  const created = await runCli(['user', 'create', '--email', 'admin@example.test', '--password-stdin', '--create-database'], {
    cwd,
    stdin: 'correct horse battery staple\n',
  });
  expect(created.code, created.stderr).toBe(0);
  store = await createStore({ url: `sqlite:${join(cwd, 'data', 'latchkey.db')}` });
  await store.setWebhookOutbox(true, T0);
  for (const type of ['register', 'login_success', 'refresh', 'logout']) await store.appendAudit({ type, at: T0, userId: 'u-1' });
  ids = (await store.listWebhooks()).map((d) => d.eventId);
  const [a, b, c] = await store.claimWebhooks('w', T0, 60_000, 3);
  await store.webhookDelivered(a!.eventId, 'w', T0 + 1_000);
  await store.webhookFailed(b!.eventId, 'w', null, 'HTTP 410');
  await store.webhookFailed(c!.eventId, 'w', null, 'ECONNREFUSED');
}, 60_000);
afterAll(async () => {
  await store?.close();
  await rm(cwd, { recursive: true, force: true });
});

describe('latchkey webhooks', () => {
  it('list --json prints the deliveries in event order; --state filters; the text form names state and reason', async () => {
    const all = await runCli(['webhooks', 'list', '--json'], { cwd });
    expect(all.code, all.stderr).toBe(0);
    const rows = JSON.parse(all.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((r) => [r.id, r.state, r.lastError])).toEqual([
      [ids[0], 'delivered', null],
      [ids[1], 'dead', 'HTTP 410'],
      [ids[2], 'dead', 'ECONNREFUSED'],
      [ids[3], 'pending', null],
    ]);
    expect(rows[0]).toMatchObject({ type: 'register', at: new Date(T0).toISOString(), attempts: 1, deliveredAt: new Date(T0 + 1_000).toISOString() });
    const dead = await runCli(['webhooks', 'list', '--state', 'dead', '--json'], { cwd });
    expect((JSON.parse(dead.stdout) as Array<{ id: number }>).map((r) => r.id)).toEqual([ids[1], ids[2]]);
    const after = await runCli(['webhooks', 'list', '--after', String(ids[2]), '--json'], { cwd });
    expect((JSON.parse(after.stdout) as Array<{ id: number }>).map((r) => r.id)).toEqual([ids[3]]);
    const text = await runCli(['webhooks', 'list', '--state', 'dead'], { cwd });
    expect(text.stdout).toContain(`${ids[1]}  login_success`);
    expect(text.stdout).toContain('last: HTTP 410');
  }, 60_000);

  it('retry --id of something that is not a dead letter: exit 1 with one line; the dead ones named are re-queued', async () => {
    const result = await runCli(['webhooks', 'retry', '--id', String(ids[1]), '--id', String(ids[0]), '--id', '999999'], { cwd });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('1 dead-lettered delivery queued again\n');
    expect(result.stderr).toBe('latchkey: 2 of the ids given are not a dead letter (unknown, pending or delivered)\n');
    const pending = (await store.listWebhooks({ state: 'pending' })).filter((d) => ids.includes(d.eventId));
    expect(pending.map((d) => [d.eventId, d.attempts])).toEqual([
      [ids[1], 0],
      [ids[3], 0],
    ]);
    // Audited as the CLI's action (and, the outbox being on, queued for delivery itself).
    const [audited] = (await store.listAudit({ limit: 1 })) ?? [];
    expect(audited).toMatchObject({ type: 'admin_webhooks_retried', actorId: 'cli', detail: { count: 1, requested: 3 } });
  }, 60_000);

  it('retry without ids re-queues every dead letter; again, nothing is left (exit 0)', async () => {
    const result = await runCli(['webhooks', 'retry'], { cwd });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('1 dead-lettered delivery queued again\n');
    // The three left of the four, and the two retries' own audit events.
    expect(await store.webhookCounts()).toMatchObject({ dead: 0, pending: 5, delivered: 1 });
    const again = await runCli(['webhooks', 'retry'], { cwd });
    expect([again.code, again.stdout]).toEqual([0, '0 dead-lettered deliveries queued again\n']);
  }, 60_000);

  it('a CLI process leaves the outbox on, and its audited writes get deliveries', async () => {
    const revoked = await runCli(['sessions', 'revoke', '--email', 'admin@example.test'], { cwd });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await store.webhookOutboxEnabled()).toBe(true);
    expect((await store.listWebhooks({ state: 'pending' })).map((d) => d.type)).toContain('sessions_revoked_by_admin');
  }, 60_000);

  it('serve refuses a malformed LATCHKEY_WEBHOOK_SECRET, or a URL without one: exit 2, one line naming the variable, never the value', async () => {
    const secret = `whsec_${Buffer.from('sixteen byte key').toString('base64')}`;
    const short = await runCli(['serve'], { cwd, env: { LATCHKEY_WEBHOOK_URL: 'http://127.0.0.1:9/hooks', LATCHKEY_WEBHOOK_SECRET: secret } });
    expect(short.code).toBe(2);
    expect(short.stderr).toBe('latchkey: invalid configuration: LATCHKEY_WEBHOOK_SECRET: must encode 24 to 64 bytes after whsec_\n');
    const alone = await runCli(['serve'], { cwd, env: { LATCHKEY_WEBHOOK_URL: 'http://127.0.0.1:9/hooks' } });
    expect(alone.code).toBe(2);
    expect(alone.stderr).toBe('latchkey: invalid configuration: LATCHKEY_WEBHOOK_SECRET: is required when LATCHKEY_WEBHOOK_URL is set\n');
  }, 60_000);

  it.each([
    [['webhooks']],
    [['webhooks', 'resend']],
    [['webhooks', 'list', '--state', 'lost']],
    [['webhooks', 'list', '--limit', '0']],
    [['webhooks', 'list', '--after', 'x']],
    [['webhooks', 'retry', '--id', '12abc']],
    [['webhooks', 'retry', '--all']],
  ])(
    '%j: usage error, exit 2',
    async (args) => {
      const result = await runCli(args, { cwd });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^usage: latchkey webhooks list/);
    },
    60_000,
  );
});
