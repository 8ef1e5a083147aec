/**
 * A real SMTP server for the tests (the `smtp-server` package, on a loopback port): every
 * mail it accepts is parsed with `mailparser` (both MIME parts, headers) and kept in order.
 * It can refuse mail with a chosen SMTP status, and be stopped and started again on the
 * same port to play an outage.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';

export interface ReceivedMail {
  parsed: ParsedMail;
  raw: string;
  /** The envelope recipients (RCPT TO). */
  rcptTo: string[];
  /** The authenticated user, when the client logged in. */
  user: string | undefined;
}

export interface TestSmtp {
  /** `smtp://127.0.0.1:PORT` (add credentials yourself). */
  url: string;
  port: number;
  received: ReceivedMail[];
  /** Answer the DATA of every following mail with this status (e.g. 451 or 550); `undefined` accepts. */
  refuseWith: number | undefined;
  /** Credentials the clients presented (AUTH), in order. */
  logins: string[];
  /** Resolves once `count` mails have arrived (or rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
  /** Listens again on the same port after `stop()`. */
  start(): Promise<void>;
}

export async function startSmtp(options: { port?: number; host?: string; server?: SMTPServerOptions } = {}): Promise<TestSmtp> {
  const host = options.host ?? '127.0.0.1';
  let server: SMTPServer | undefined;
  const state: TestSmtp = {
    url: '',
    port: options.port ?? 0,
    received: [],
    refuseWith: undefined,
    logins: [],
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (state.received.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} mails, got ${state.received.length} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return state.received;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async start() {
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS'],
        logger: false,
        ...options.server,
        onAuth(auth, _session, callback) {
          state.logins.push(`${auth.username}:${auth.password}`);
          callback(null, { user: auth.username });
        },
        onData(stream, session, callback) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            if (state.refuseWith !== undefined) {
              const error = new Error('refused by the test') as Error & { responseCode: number };
              error.responseCode = state.refuseWith;
              callback(error);
              return;
            }
            const raw = Buffer.concat(chunks).toString('utf8');
            simpleParser(raw).then(
              (parsed) => {
                state.received.push({ parsed, raw, rcptTo: session.envelope.rcptTo.map((r) => r.address), user: session.user as string | undefined });
                callback();
              },
              (error: Error) => callback(error),
            );
          });
        },
      });
      const s = server;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(state.port, host, () => resolve());
      });
      state.port = (s.server.address() as AddressInfo).port;
      state.url = `smtp://${host}:${state.port}`;
    },
  };
  await state.start();
  return state;
}
