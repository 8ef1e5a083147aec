/**
 * The mail queue against a real SMTP server (smtp-server on a loopback port) and real stores:
 * delivery of both MIME parts, an outage (server down, then back: every mail once), several
 * workers on one PostgreSQL database (each mail once), permanent refusals, the sealed queue
 * (no message text in any column, erased once sent), the dev outbox files, and the rule that
 * SMTP credentials only travel over TLS except to this machine.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { MailQueue, retryDelay } from '../../src/mail/queue.js';
import { loadTemplates, type TemplateSet } from '../../src/mail/templates.js';
import { createMailTransport } from '../../src/mail/transport.js';
import { createStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { testClock } from '../helpers/clock.js';
import { createTestSchema, describePostgres } from '../helpers/postgres.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let dir: string;
let templates: TemplateSet;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-mail-'));
  templates = await loadTemplates();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function sqliteStore(): Promise<{ store: Store; file: string }> {
  const file = join(dir, `q-${++n}`, 'latchkey.db');
  const store = await createStore({ url: `sqlite:${file}` });
  await store.migrate();
  onTestFinished(() => store.close());
  return { store, file };
}

const sealKey = randomBytes(32);

function queueFor(store: Store, smtpUrl: string | undefined, clock = testClock(), extra: { logs?: object[] } = {}) {
  const queue = new MailQueue({
    store,
    transport: createMailTransport({ smtpUrl, from: 'Latchkey <no-reply@localhost>', outboxDir: join(dir, `outbox-${++n}`), timeoutMs: 2_000 }),
    sealKey,
    templates,
    defaults: { appName: 'Latchkey test' },
    now: clock.now,
    logger: { info: (obj) => extra.logs?.push(obj), warn: (obj) => extra.logs?.push(obj) },
  });
  onTestFinished(() => queue.stop());
  return queue;
}

const LINK = () => `http://localhost:3000/auth/reset-password#token=${randomBytes(32).toString('base64url')}`;

describe('mail queue over SMTP', () => {
  let smtp: TestSmtp;
  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(async () => {
    await smtp.stop();
  });

  it('delivers a queued mail with a text and an HTML part, the link in both, once', async () => {
    const { store } = await sqliteStore();
    const queue = queueFor(store, smtp.url);
    const link = LINK();
    const before = smtp.received.length;
    await store.enqueueMail(queue.compose('reset_password', 'alice@example.test', { link, expiresIn: '15 minutes' }));
    expect(await queue.runOnce()).toBe(1);
    const [mail] = (await smtp.waitFor(before + 1)).slice(before);
    expect(mail!.rcptTo).toEqual(['alice@example.test']);
    expect(mail!.parsed.subject).toBe('Reset your password');
    expect(mail!.parsed.text).toContain(link);
    expect(mail!.parsed.html).toContain(link.replace(/&/g, '&amp;'));
    expect(mail!.parsed.from?.text).toContain('no-reply@localhost');
    expect(await store.mailQueueCounts()).toEqual({ queued: 0, sending: 0, sent: 1, dead: 0 });
    expect(await queue.runOnce()).toBe(0);
  });

  it('no column of the queue holds the message, before or after sending', async () => {
    const { store, file } = await sqliteStore();
    const queue = queueFor(store, smtp.url);
    const token = randomBytes(32).toString('base64url');
    await store.enqueueMail(queue.compose('reset_password', 'bob@example.test', { link: `http://x/#token=${token}`, expiresIn: '15 minutes' }));
    const db = new BetterSqlite3(file, { readonly: true });
    onTestFinished(() => {
      db.close();
    });
    const dump = () => JSON.stringify(db.prepare('select * from mail_queue').all());
    expect(dump()).not.toContain(token);
    expect(dump()).not.toContain('bob@example.test');
    await queue.runOnce();
    expect(db.prepare('select sealed from mail_queue').all()).toEqual([{ sealed: null }]);
  });

  it('SMTP down while 10 mails are queued: nothing lost; back up, each delivered exactly once', async () => {
    const { store } = await sqliteStore();
    const down = await startSmtp();
    const clock = testClock();
    const queue = queueFor(store, down.url, clock);
    await down.stop();
    for (let i = 0; i < 10; i++) await store.enqueueMail(queue.compose('test', `user${i}@example.test`, {}));
    expect(await queue.runOnce()).toBe(10);
    expect(await store.mailQueueCounts()).toMatchObject({ queued: 10, sent: 0 });
    // Retried after the first delay, still down: the next retry is later.
    clock.advance(retryDelay(1));
    expect(await queue.runOnce()).toBe(10);
    clock.advance(retryDelay(2) - 1);
    expect(await queue.runOnce()).toBe(0);

    await down.start();
    onTestFinished(() => down.stop());
    clock.advance(1);
    expect(await queue.runOnce()).toBe(10);
    const received = await down.waitFor(10);
    expect(received.map((m) => m.rcptTo[0]).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `user${i}@example.test`).sort());
    expect(new Set(received.map((m) => m.parsed.messageId)).size).toBe(10);
    expect(await store.mailQueueCounts()).toEqual({ queued: 0, sending: 0, sent: 10, dead: 0 });
  });

  it('SMTP back while mail waits out a 5-minute backoff: everything goes out within 60 s, once', async () => {
    const { store } = await sqliteStore();
    const down = await startSmtp();
    await down.stop();
    const clock = testClock();
    const queue = queueFor(store, down.url, clock);
    for (let i = 0; i < 10; i++) await store.enqueueMail(queue.compose('test', `wait${i}@example.test`, {}));
    // Seven failed attempts: the next one is 5 minutes away.
    for (let attempt = 1; attempt <= 7; attempt++) {
      expect(await queue.runOnce()).toBe(10);
      clock.advance(retryDelay(attempt));
    }
    clock.advance(-retryDelay(7));
    expect(retryDelay(7)).toBe(300_000);
    await down.start();
    onTestFinished(() => down.stop());
    clock.advance(30_000);
    expect(await queue.runOnce()).toBe(0); // nothing is due for another 4.5 minutes…
    await queue.poll(); // …but the worker's probe finds SMTP back and sends them all
    const received = await down.waitFor(10);
    expect(received).toHaveLength(10);
    expect(await store.mailQueueCounts()).toEqual({ queued: 0, sending: 0, sent: 10, dead: 0 });
  });

  it('the server restarted while SMTP was down: the new process delivers every queued mail once', async () => {
    const file = join(dir, `restart-${++n}`, 'latchkey.db');
    const down = await startSmtp();
    await down.stop();
    const clock = testClock();
    const first = await createStore({ url: `sqlite:${file}` });
    await first.migrate();
    const before = queueFor(first, down.url, clock);
    for (let i = 0; i < 10; i++) await first.enqueueMail(before.compose('test', `restart${i}@example.test`, {}));
    expect(await before.runOnce()).toBe(10);
    await before.stop();
    await first.close();

    await down.start();
    onTestFinished(() => down.stop());
    const second = await createStore({ url: `sqlite:${file}` });
    onTestFinished(() => second.close());
    const after = queueFor(second, down.url, clock);
    clock.advance(retryDelay(1));
    expect(await after.runOnce()).toBe(10);
    const received = await down.waitFor(10);
    expect(new Set(received.map((m) => m.rcptTo[0])).size).toBe(10);
    expect(await second.mailQueueCounts()).toEqual({ queued: 0, sending: 0, sent: 10, dead: 0 });
  });

  it('a 4xx answer is retried, a 5xx answer gives up; no reason quotes the server or the address', async () => {
    const { store } = await sqliteStore();
    const logs: object[] = [];
    const clock = testClock();
    const queue = queueFor(store, smtp.url, clock, { logs });
    smtp.refuseWith = 451;
    onTestFinished(() => {
      smtp.refuseWith = undefined;
    });
    await store.enqueueMail(queue.compose('test', 'carol@example.test', {}));
    await queue.runOnce();
    expect(await store.mailQueueCounts()).toMatchObject({ queued: 1 });
    smtp.refuseWith = 550;
    clock.advance(retryDelay(1));
    await queue.runOnce();
    expect(await store.mailQueueCounts()).toMatchObject({ queued: 0, dead: 1 });
    expect(JSON.stringify(logs)).not.toContain('carol@example.test');
    expect(JSON.stringify(logs)).toMatch(/"reason":"[A-Z]+ 550"/);
  });

  it('the worker sends a kicked mail without waiting for the poll', async () => {
    const { store } = await sqliteStore();
    const queue = queueFor(store, smtp.url, { now: Date.now, advance() {}, set() {} });
    queue.start();
    const before = smtp.received.length;
    await store.enqueueMail(queue.compose('test', 'dave@example.test', {}));
    queue.kick();
    const mails = await smtp.waitFor(before + 1, 5_000);
    expect(mails.at(-1)!.rcptTo).toEqual(['dave@example.test']);
  });

  it('credentials to a server that is not this machine require STARTTLS: the password is never sent in clear', async () => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
    if (!external) throw new Error('this test needs a non-loopback IPv4 address on this machine');
    const plain = await startSmtp({ host: external });
    onTestFinished(() => plain.stop());
    const { store } = await sqliteStore();
    const queue = queueFor(store, `smtp://user:secret-pass@${external}:${plain.port}`);
    await store.enqueueMail(queue.compose('test', 'erin@example.test', {}));
    await queue.runOnce();
    expect(plain.logins).toEqual([]);
    expect(plain.received).toEqual([]);
    expect(await store.mailQueueCounts()).toMatchObject({ queued: 1 });

    // To this machine, credentials over plain SMTP are allowed (a local relay).
    const local = await startSmtp();
    onTestFinished(() => local.stop());
    const localQueue = queueFor(store, `smtp://user:secret-pass@127.0.0.1:${local.port}`);
    await store.enqueueMail(localQueue.compose('test', 'frank@example.test', {}));
    await localQueue.runOnce();
    expect(local.logins).toEqual(['user:secret-pass']);
  });
});

describe('dev outbox', () => {
  it('writes each mail as a 0600 .eml file in a 0700 directory, logs the file, never the link', async () => {
    const { store } = await sqliteStore();
    const logs: object[] = [];
    const queue = queueFor(store, undefined, testClock(), { logs });
    const link = LINK();
    await store.enqueueMail(queue.compose('verify_email', 'grace@example.test', { link, expiresIn: '24 hours' }));
    await queue.runOnce();
    const outbox = queue.transport.outboxDir!;
    const files = await readdir(outbox);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/verify_email.*\.eml$/);
    const file = join(outbox, files[0]!);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(outbox)).mode & 0o777).toBe(0o700);
    const parsed = await simpleParser(await readFile(file));
    expect(parsed.text).toContain(link);
    expect(logs).toContainEqual(expect.objectContaining({ file, kind: 'verify_email' }));
    expect(JSON.stringify(logs)).not.toContain(link.split('#token=')[1]);
  });
});

await describePostgres('mail queue on PostgreSQL', () => {
  it('two instances on one database, 40 mails: each delivered exactly once', async () => {
    const schema = await createTestSchema();
    onTestFinished(() => schema.drop());
    const smtp = await startSmtp();
    onTestFinished(() => smtp.stop());
    const stores = await Promise.all([0, 1].map(() => createStore({ url: schema.url, poolSize: 4 })));
    for (const s of stores) onTestFinished(() => s.close());
    await stores[0]!.migrate();
    const queues = stores.map((s) => queueFor(s, smtp.url, { now: Date.now, advance() {}, set() {} }));
    for (let i = 0; i < 40; i++) await stores[0]!.enqueueMail(queues[0]!.compose('test', `pg${i}@example.test`, {}));
    for (const q of queues) q.start();
    const received = await smtp.waitFor(40);
    // Give both workers time to send a duplicate, if they would.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(received).toHaveLength(40);
    expect(new Set(received.map((m) => m.rcptTo[0])).size).toBe(40);
    expect(await stores[1]!.mailQueueCounts()).toEqual({ queued: 0, sending: 0, sent: 40, dead: 0 });
  }, 60_000);
});
