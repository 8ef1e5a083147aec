/**
 * The durable mail queue: mails are rendered and sealed (AES-256-GCM under a key derived from
 * the master secret) when they are queued, in the same transaction as what caused them, and a
 * worker in every instance sends what is due. A mail is never lost because SMTP was down: it
 * stays queued and is retried (5 s, doubling, at most 5 min apart) for 72 h. The lease taken by
 * `claimMail` keeps two workers — in one process or several — from sending one mail at once;
 * a mail is sent twice only if the server's 250 reply was lost (docs/email.md).
 */
import { randomUUID } from 'node:crypto';
import { seal, unseal } from '../keys/sealing.js';
import type { ClaimedMail, NewMail, Store } from '../store/types.js';
import { renderMail, type MailKind, type TemplateSet } from './templates.js';
import type { MailTransport } from './transport.js';
import { Poller } from '../worker/poller.js';

export interface MailLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MailQueueOptions {
  store: Store;
  transport: MailTransport;
  /** Seals queued messages; derived from the master secret. */
  sealKey: Buffer;
  templates: TemplateSet;
  /** Values every mail may use (`appName`). */
  defaults: Readonly<Record<string, string>>;
  now?: () => number;
  logger?: MailLogger;
  /** How often the worker looks for due mail, ms. Default 1 000. */
  pollMs?: number;
  /** How long a claimed mail is held, ms: longer than any SMTP attempt can take. Default 120 000. */
  leaseMs?: number;
}

const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 5 * 60_000;
/** How long a mail is retried before it is given up. */
const MAIL_GIVE_UP_MS = 72 * 3600_000;
const BATCH = 10;
/** How often a worker with mail waiting out its backoff tries one early, to notice SMTP is back. */
const PROBE_MS = 30_000;

/** Delay before attempt `attempts + 1`: 5 s, 10 s, 20 s, … capped at 5 min. */
export function retryDelay(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

interface SealedMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** A short reason for the queue row and the log: an error code and the SMTP status, never the server's text (it may quote the address). */
function reasonOf(error: unknown): { reason: string; permanent: boolean } {
  const e = error as { code?: unknown; responseCode?: unknown };
  const code = typeof e.code === 'string' ? e.code : 'ERROR';
  const status = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  // A 5xx answer to the envelope or the message: the server refused this mail for good
  // (unknown recipient, policy). Everything else — 4xx, network, TLS, authentication — may be
  // fixed by the server or its operator, so it is retried.
  const refused = (code === 'EENVELOPE' || code === 'EMESSAGE') && status !== undefined && status >= 500 && status < 600;
  return { reason: status === undefined ? code : `${code} ${status}`, permanent: refused };
}

export class MailQueue {
  readonly #o: Required<Omit<MailQueueOptions, 'logger'>> & { logger: MailLogger | undefined };
  readonly #owner = `worker-${randomUUID()}`;
  readonly #poller: Poller;
  #lastProbe = 0;

  constructor(options: MailQueueOptions) {
    this.#o = { now: Date.now, pollMs: 1_000, leaseMs: 120_000, ...options, logger: options.logger };
    this.#poller = new Poller(this.#o.pollMs, () => this.#loop());
  }

  get transport(): MailTransport {
    return this.#o.transport;
  }

  /** Renders and seals a mail for `store.issueLink` / `store.enqueueMail`. `kick()` once it is committed. */
  compose(kind: MailKind, to: string, values: Readonly<Record<string, string>>): NewMail {
    const id = randomUUID();
    const rendered = renderMail(this.#o.templates[kind], { ...this.#o.defaults, email: to, ...values });
    const body: SealedMessage = { to, ...rendered };
    return { id, kind, sealed: seal(this.#o.sealKey, Buffer.from(JSON.stringify(body)), `mail:${id}`), now: this.#o.now() };
  }

  /**
   * Renders and sends one mail now, past the queue (`latchkey mail test`): the caller sees the
   * transport's answer. Throws the transport's error, with a secret-free `reason` attached.
   */
  async sendNow(kind: MailKind, to: string, values: Readonly<Record<string, string>>): Promise<{ file?: string }> {
    const rendered = renderMail(this.#o.templates[kind], { ...this.#o.defaults, email: to, ...values });
    try {
      return await this.#o.transport.send({ id: randomUUID(), kind, to, ...rendered });
    } catch (error) {
      throw Object.assign(new Error(`mail not sent: ${reasonOf(error).reason}`), { reason: reasonOf(error).reason });
    }
  }

  /** Starts the worker: due mail is looked for every `pollMs`, and at once after `kick()`. */
  start(): void {
    this.#poller.start();
  }

  /** Sends what is due now, without waiting for the next poll. */
  kick(): void {
    this.#poller.kick();
  }

  async #loop(): Promise<void> {
    try {
      while (!this.#poller.stopped && (await this.runOnce()) === BATCH);
      await this.#probe();
    } catch (error) {
      // The store is down: the next poll tries again; nothing is lost (the mail is in the queue).
      this.#o.logger?.warn({ err: { code: (error as { code?: unknown }).code } }, 'mail queue: cannot read the queue');
    }
  }

  /**
   * Mail waiting out its backoff (up to 5 min) must not wait that long once SMTP is back: every
   * {@link PROBE_MS} one waiting mail is tried early; if it goes out, all waiting mail is made due.
   */
  async #probe(): Promise<void> {
    const now = this.#o.now();
    if (this.#poller.stopped || now - this.#lastProbe < PROBE_MS) return;
    this.#lastProbe = now;
    const [early] = await this.#o.store.claimMail(this.#owner, now, this.#o.leaseMs, 1, { dueBy: now + MAX_RETRY_MS });
    if (early && (await this.#attempt(early)) && (await this.#o.store.expediteMail(this.#o.now())) > 0) await this.runOnce();
  }

  /** What the worker's poll runs — due mail, then the early probe — awaited (tests). */
  async poll(): Promise<void> {
    await this.runOnce();
    await this.#probe();
  }

  /** One pass: claims up to a batch of due mails and tries each once. Returns how many it claimed. */
  async runOnce(): Promise<number> {
    const claimed = await this.#o.store.claimMail(this.#owner, this.#o.now(), this.#o.leaseMs, BATCH);
    for (const mail of claimed) await this.#attempt(mail);
    return claimed.length;
  }

  /** Tries one claimed mail once; true when it was sent. */
  async #attempt(mail: ClaimedMail): Promise<boolean> {
    const { store, transport, sealKey, logger } = this.#o;
    let message: SealedMessage;
    try {
      message = JSON.parse(unseal(sealKey, mail.sealed, `mail:${mail.id}`).toString('utf8')) as SealedMessage;
    } catch {
      // Sealed under another master secret: it can never be sent.
      await store.mailFailed(mail.id, this.#owner, null, 'UNSEAL_FAILED');
      logger?.warn({ mail: mail.id, kind: mail.kind }, 'mail given up: sealed under another LATCHKEY_SECRET');
      return false;
    }
    try {
      const { file } = await transport.send({ id: mail.id, kind: mail.kind, ...message });
      await store.mailSent(mail.id, this.#owner, this.#o.now());
      logger?.info({ mail: mail.id, kind: mail.kind, attempts: mail.attempts, transport: transport.kind, ...(file ? { file } : {}) }, 'mail sent');
      return true;
    } catch (error) {
      const { reason, permanent } = reasonOf(error);
      const now = this.#o.now();
      const giveUp = permanent || now - mail.createdAt >= MAIL_GIVE_UP_MS;
      const retryAt = giveUp ? null : now + retryDelay(mail.attempts);
      await store.mailFailed(mail.id, this.#owner, retryAt, reason);
      logger?.warn(
        { mail: mail.id, kind: mail.kind, attempts: mail.attempts, reason, ...(retryAt ? { retryAt } : {}) },
        giveUp ? 'mail given up' : 'mail not sent yet',
      );
      return false;
    }
  }

  /** Stops the worker and waits for the pass in progress. */
  async stop(): Promise<void> {
    await this.#poller.stop();
    this.#o.transport.close();
  }
}
