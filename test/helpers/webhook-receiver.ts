/**
 * A webhook receiver for tests: a node:http server on a free port that checks every request with
 * the Standard Webhooks reference library (`standardwebhooks`), records it, and answers with the
 * status the test chooses (optionally after a delay), counting requests in flight per id.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { freePort } from './ports.js';

export interface ReceivedWebhook {
  id: string;
  timestamp: string;
  signature: string;
  /** The raw body. */
  body: string;
  /** The body as the reference library returned it after verifying, or `undefined` if it refused. */
  payload: { type: string; timestamp: string; data: Record<string, unknown> & { eventId: number } } | undefined;
  headers: IncomingMessage['headers'];
  /** What the receiver answered. */
  status: number;
  /** Requests with this id in flight when this one arrived (0: none). */
  concurrent: number;
  receivedAt: number;
}

/** How the receiver answers a request: a status, and how long to wait before answering (ms). */
export type Answer = (request: { id: string; seen: number }) => { status: number; delayMs?: number } | number;

export interface Receiver {
  url: string;
  secret: string;
  received: ReceivedWebhook[];
  answer: Answer;
  /** Resolves once `predicate` holds for what was received (polls), or rejects after `timeoutMs`. */
  waitFor(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs: number): Promise<void>;
  /** The ids answered with a 2xx, each once per such answer. */
  delivered(): string[];
  close(): Promise<void>;
}

/** A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

export async function startReceiver(options: { secret?: string; answer?: Answer; port?: number } = {}): Promise<Receiver> {
  const secret = options.secret ?? newWebhookSecret();
  const verifier = new Webhook(secret);
  const inFlight = new Map<string, number>();
  const seen = new Map<string, number>();
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      let payload: ReceivedWebhook['payload'];
      try {
        payload = verifier.verify(body, req.headers as Record<string, string>) as ReceivedWebhook['payload'];
      } catch {
        payload = undefined;
      }
      const concurrent = inFlight.get(id) ?? 0;
      inFlight.set(id, concurrent + 1);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      const chosen = receiver.answer({ id, seen: seen.get(id)! });
      const { status, delayMs = 0 } = typeof chosen === 'number' ? { status: chosen } : chosen;
      const record: ReceivedWebhook = {
        id,
        timestamp: String(req.headers['webhook-timestamp'] ?? ''),
        signature: String(req.headers['webhook-signature'] ?? ''),
        body,
        payload,
        headers: req.headers,
        status,
        concurrent,
        receivedAt: Date.now(),
      };
      received.push(record);
      setTimeout(() => {
        inFlight.set(id, (inFlight.get(id) ?? 1) - 1);
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
      }, delayMs);
    });
  });
  const port = options.port ?? (await freePort());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks/latchkey`,
    secret,
    received,
    answer: options.answer ?? (() => 200),
    async waitFor(predicate, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`receiver: condition not met in ${timeoutMs} ms (${received.length} requests received)`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    delivered: () => received.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.id),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}
