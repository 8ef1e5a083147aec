/**
 * `latchkey webhooks list [--state S] [--after ID] [--limit N] [--json]`: the webhook outbox in
 * event order. `latchkey webhooks retry [--id ID …]`: dead-lettered deliveries (all, or those
 * named) pending again with a fresh series of attempts; a running `latchkey serve` sends them
 * within its next poll (docs/admin.md#webhooks). Exit 0; 1 when an `--id` is not a dead letter
 * (the others are re-queued); 2 for a usage error. A retry is audited `admin_webhooks_retried`
 * with `actorId: "cli"`.
 */
import { parseArgs } from 'node:util';
import { toDeliveryView } from '../../auth/admin.js';
import type { WebhookState } from '../../store/types.js';
import { EXIT, type Command, type CliIo } from '../io.js';
import { withLatchkey } from '../admin.js';

const USAGE =
  'usage: latchkey webhooks list [--state pending|delivering|delivered|dead] [--after ID] [--limit N] [--json] | latchkey webhooks retry [--id ID ...]\n';
const STATES: readonly WebhookState[] = ['pending', 'delivering', 'delivered', 'dead'];
const isId = (text: string) => /^[1-9]\d{0,15}$/.test(text);

function usage(io: CliIo): number {
  io.stderr(USAGE);
  return EXIT.USAGE;
}

export const webhooks: Command = async (args, io) => {
  const [sub, ...rest] = args;
  let values: { state?: string; after?: string; limit?: string; json?: boolean; id?: string[] };
  try {
    ({ values } = parseArgs({
      args: rest,
      options:
        sub === 'retry'
          ? { id: { type: 'string', multiple: true } }
          : { state: { type: 'string' }, after: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
      strict: true,
    }));
  } catch {
    return usage(io);
  }
  if (sub === 'retry') {
    const ids = values.id;
    if (ids && !ids.every(isId)) return usage(io);
    return withLatchkey(io, async (latchkey) => {
      const requeued = await latchkey.auth.admin.retryWebhooks({ actorId: 'cli', ip: null }, ids?.map(Number));
      io.stdout(`${requeued} dead-lettered ${requeued === 1 ? 'delivery' : 'deliveries'} queued again\n`);
      if (ids && requeued < new Set(ids).size) {
        io.stderr(
          `latchkey: ${new Set(ids).size - requeued} of the ids given ${new Set(ids).size - requeued === 1 ? 'is' : 'are'} not a dead letter (unknown, pending or delivered)\n`,
        );
        return EXIT.FAILURE;
      }
      return EXIT.OK;
    });
  }
  if (sub !== 'list') return usage(io);
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return usage(io);
  if (values.state !== undefined && !STATES.includes(values.state as WebhookState)) return usage(io);
  if (values.after !== undefined && !isId(values.after)) return usage(io);
  return withLatchkey(io, async (latchkey) => {
    const rows = await latchkey.store.listWebhooks({
      limit,
      ...(values.state ? { state: values.state as WebhookState } : {}),
      ...(values.after ? { afterId: Number(values.after) } : {}),
    });
    const views = rows.map(toDeliveryView);
    if (values.json) io.stdout(`${JSON.stringify(views)}\n`);
    else if (views.length === 0) io.stdout('No webhook deliveries.\n');
    else {
      for (const v of views) {
        const when = v.state === 'delivered' ? `delivered ${v.deliveredAt}` : v.state === 'pending' ? `next ${v.nextAttemptAt}` : v.state;
        io.stdout(`${v.id}  ${v.type}  ${v.at}  ${v.state}  attempts ${v.attempts}  ${when}${v.lastError ? `  last: ${v.lastError}` : ''}\n`);
      }
    }
    return EXIT.OK;
  });
};
