/**
 * The webhook delivery worker: POSTs what the outbox holds (`webhook_deliveries`, written with
 * each audit row) to `LATCHKEY_WEBHOOK_URL`, signed per Standard Webhooks. Every serving instance
 * runs one; the lease taken by `claimWebhooks` keeps two workers — in one process or several —
 * from sending one delivery at once, and a delivery is attempted again (same id, same body, a
 * fresh timestamp and signature) until a 2xx: at least once, never lost (docs/admin.md#webhooks).
 */
import { randomUUID } from 'node:crypto';
import { webhookSigningKey } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { ClaimedWebhook, Store } from '../store/types.js';
import { signedHeaders, webhookBody } from './payload.js';
import { Poller } from '../worker/poller.js';

export interface WebhookLogger {
  debug?(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** How one attempt ended, for metrics. */
export type WebhookResult = 'delivered' | 'retry' | 'dead';

export interface WebhookWorkerOptions {
  store: Store;
  /** `LATCHKEY_WEBHOOK_URL`. */
  url: string;
  /** `LATCHKEY_WEBHOOK_SECRET` (`whsec_…`). */
  secret: string;
  now?: () => number;
  logger?: WebhookLogger;
  /**
   * Delay in ms before the next attempt after `attempts` failed ones (default {@link retryDelay}:
   * 5 s doubling to 1 h). Tests pass a short one; the outcome of each attempt is the same.
   */
  retryDelay?: (attempts: number) => number;
  /** How often the worker looks for due deliveries, ms. Default 1 000. */
  pollMs?: number;
  /** How long an attempt may take before it counts as failed, ms. Default 15 000. */
  timeoutMs?: number;
  /** How long a claimed delivery is held, ms: longer than an attempt can take. Default 30 000. */
  leaseMs?: number;
}

const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 3_600_000;
/**
 * Attempts in a series before a delivery is dead-lettered: with {@link retryDelay}, the 81 waits
 * between 82 attempts add up to 72.4 h (5 s + 10 s + … + 2,560 s, then 71 × 1 h).
 */
export const WEBHOOK_MAX_ATTEMPTS = 82;
/** …and never sooner than this after the series began (restarts make waiting deliveries due early). */
export const WEBHOOK_GIVE_UP_MS = 72 * 3_600_000;
const BATCH = 20;

/** Delay before attempt `attempts + 1`: 5 s, 10 s, 20 s, … capped at 1 h. */
export function retryDelay(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

/** A short, secret-free reason: the status, `timeout`, or the network error's code — never the receiver's text. */
function reasonOf(error: unknown): string {
  if ((error as { name?: unknown }).name === 'TimeoutError') return 'timeout';
  if ((error as { name?: unknown }).name === 'AbortError') return 'aborted';
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : 'network error';
}

export class WebhookWorker {
  readonly #o: Required<Omit<WebhookWorkerOptions, 'logger'>> & Pick<WebhookWorkerOptions, 'logger'>;
  readonly #listeners = new Set<(result: WebhookResult) => void>();
  readonly #key: Buffer;
  readonly #owner = `webhooks-${randomUUID()}`;
  /** Aborts the attempts in flight when the worker stops. */
  #abort = new AbortController();
  readonly #poller: Poller;

  constructor(options: WebhookWorkerOptions) {
    const key = webhookSigningKey(options.secret);
    if (!Buffer.isBuffer(key)) throw new ConfigError('webhookSecret', key.message, key.reason);
    this.#key = key;
    this.#o = { now: Date.now, retryDelay, pollMs: 1_000, timeoutMs: 15_000, leaseMs: 30_000, ...options };
    if (this.#o.leaseMs <= this.#o.timeoutMs) throw new ConfigError('leaseMs', 'must exceed timeoutMs: a lease must outlast any attempt', 'conflict');
    this.#poller = new Poller(this.#o.pollMs, () => this.#loop());
  }

  /** Subscribes to the outcome of every attempt (metrics; the listener must not throw). Returns the unsubscribe function. */
  onResult(listener: (result: WebhookResult) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #tell(result: WebhookResult): void {
    for (const listener of this.#listeners) listener(result);
  }

  /**
   * Starts the worker: every delivery waiting out its backoff is made due now, so what was
   * pending when the server stopped is attempted at once; then due deliveries are looked for
   * every `pollMs`.
   */
  async start(): Promise<void> {
    if (this.#abort.signal.aborted) this.#abort = new AbortController();
    await this.#o.store.expediteWebhooks(this.#o.now()).catch((error: unknown) => this.#storeDown(error));
    this.#poller.start();
  }

  /** Looks for due deliveries now, without waiting for the next poll. */
  kick(): void {
    this.#poller.kick();
  }

  async #loop(): Promise<void> {
    try {
      while (!this.#poller.stopped && (await this.runOnce()) === BATCH);
    } catch (error) {
      this.#storeDown(error);
    }
  }

  /** The store is down: the next poll tries again; nothing is lost (the deliveries are in the outbox). */
  #storeDown(error: unknown): void {
    this.#o.logger?.warn({ err: { code: (error as { code?: unknown }).code } }, 'webhooks: cannot read the outbox');
  }

  /** One pass: claims up to a batch of due deliveries and attempts them side by side. Returns how many it claimed. */
  async runOnce(): Promise<number> {
    const claimed = await this.#o.store.claimWebhooks(this.#owner, this.#o.now(), this.#o.leaseMs, BATCH);
    await Promise.all(claimed.map((delivery) => this.#attempt(delivery)));
    return claimed.length;
  }

  /** POSTs one claimed delivery once and records the outcome. */
  async #attempt(delivery: ClaimedWebhook): Promise<void> {
    const { store, logger, now } = this.#o;
    const id = String(delivery.eventId);
    const body = webhookBody(delivery);
    let failure: string;
    try {
      const response = await fetch(this.#o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'latchkey-webhooks', ...signedHeaders(this.#key, id, body, now()) },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(this.#o.timeoutMs), this.#abort.signal]),
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) {
        if (await store.webhookDelivered(delivery.eventId, this.#owner, now())) this.#tell('delivered');
        logger?.debug?.({ webhook: id, type: delivery.type, attempts: delivery.attempts }, 'webhook delivered');
        return;
      }
      failure = `HTTP ${response.status}`;
    } catch (error) {
      failure = reasonOf(error);
    }
    const at = now();
    const dead = delivery.attempts >= WEBHOOK_MAX_ATTEMPTS && at - delivery.queuedAt >= WEBHOOK_GIVE_UP_MS;
    // Stopping: due again at once, for this instance's next start or another instance.
    const retryAt = dead ? null : this.#poller.stopped ? at : at + this.#o.retryDelay(delivery.attempts);
    if (!(await store.webhookFailed(delivery.eventId, this.#owner, retryAt, failure))) return;
    this.#tell(dead ? 'dead' : 'retry');
    const fields = { webhook: id, type: delivery.type, attempts: delivery.attempts, reason: failure };
    if (dead) logger?.error(fields, 'webhook dead-lettered: `latchkey webhooks retry` sends it again');
    else logger?.warn({ ...fields, retryAt: new Date(retryAt!).toISOString() }, 'webhook not delivered yet');
  }

  /** Stops the worker: attempts in flight are cut short and left due; waits for the pass in progress. */
  async stop(): Promise<void> {
    const stopped = this.#poller.stop(); // no pass starts from here on
    this.#abort.abort();
    await stopped;
  }
}
