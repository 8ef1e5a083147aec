/**
 * `latchkey audit tail [--follow] [--limit N]`: prints audit events as JSON lines, oldest
 * first — the latest N (default 20), then, with `--follow`, every new one as it is stored
 * (polled every second) until SIGINT/SIGTERM. Events hold no secret: ids, IPs, types and
 * small details (never a token, password or e-mail address).
 */
import { parseArgs } from 'node:util';
import { EXIT, type Command } from '../io.js';
import { withLatchkey } from '../admin.js';
import type { AuditEventRecord } from '../../store/types.js';

const USAGE = 'usage: latchkey audit tail [--follow] [--limit N]\n';
const POLL_MS = 1000;

/** One event as a JSON line; times as ISO 8601 UTC (docs/http-api.md#times). */
export function formatAuditEvent(event: AuditEventRecord): string {
  return `${JSON.stringify({
    id: event.id,
    at: new Date(event.at).toISOString(),
    type: event.type,
    userId: event.userId,
    sessionId: event.sessionId,
    ip: event.ip,
    detail: event.detail,
  })}\n`;
}

export const audit: Command = async (args, io) => {
  const [sub, ...rest] = args;
  let values: { follow?: boolean; limit?: string };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { follow: { type: 'boolean', short: 'f' }, limit: { type: 'string', short: 'n' } },
      strict: true,
    }));
  } catch {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (sub !== 'tail' || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  return withLatchkey(io, async (latchkey) => {
    let lastId = 0;
    for (const event of await latchkey.store.listAudit({ limit })) {
      io.stdout(formatAuditEvent(event));
      lastId = event.id;
    }
    if (!values.follow) return EXIT.OK;

    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const onSignal = () => stop();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      let running = true;
      void stopped.then(() => (running = false));
      while (running) {
        for (;;) {
          const batch = await latchkey.store.listAudit({ afterId: lastId, limit: 1000 });
          for (const event of batch) {
            io.stdout(formatAuditEvent(event));
            lastId = event.id;
          }
          if (batch.length < 1000) break;
        }
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, POLL_MS)))]);
        clearTimeout(timer);
      }
      return EXIT.OK;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });
};
