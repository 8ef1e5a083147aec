/**
 * The store's webhook outbox (`webhook_deliveries`, filled by the trigger of migration 0008 in the
 * same statement as each audit row while `webhook_settings.enabled` is 1). Each function runs on
 * the connection or transaction `KyselyStore` gives it, on either dialect; the claim is the mail
 * queue's design: candidates picked `FOR UPDATE SKIP LOCKED` on PostgreSQL, then leased by one
 * conditional UPDATE, so two workers — in one process or several — never hold one delivery.
 */
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import type { Database, WebhookDeliveriesTable } from './schema.js';
import type { ClaimedWebhook, WebhookDeliveryRecord, WebhookEvent, WebhookState } from './types.js';

type DeliveryRow = Selectable<WebhookDeliveriesTable>;

const WEBHOOK_STATES: readonly WebhookState[] = ['pending', 'delivering', 'delivered', 'dead'];

function toEvent(row: Pick<DeliveryRow, 'event_id' | 'type' | 'at' | 'user_id' | 'session_id' | 'actor_id' | 'detail'>): WebhookEvent {
  return {
    eventId: Number(row.event_id),
    type: row.type,
    at: Number(row.at),
    userId: row.user_id,
    sessionId: row.session_id,
    actorId: row.actor_id,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
  };
}

function toRecord(row: DeliveryRow): WebhookDeliveryRecord {
  return {
    ...toEvent(row),
    state: row.state as WebhookState,
    attempts: Number(row.attempts),
    queuedAt: Number(row.queued_at),
    nextAttemptAt: Number(row.next_attempt_at),
    deliveredAt: row.delivered_at === null ? null : Number(row.delivered_at),
    lastError: row.last_error,
  };
}

/** Turns the outbox on or off for the whole database (written only when it changes). */
export async function setOutbox(db: Kysely<Database>, enabled: boolean, now: number): Promise<boolean> {
  const result = await db
    .updateTable('webhook_settings')
    .set({ enabled: enabled ? 1 : 0, updated_at: now })
    .where('id', '=', 1)
    .where('enabled', '<>', enabled ? 1 : 0)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function outboxEnabled(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('webhook_settings').select('enabled').where('id', '=', 1).executeTakeFirst();
  return Number(row?.enabled ?? 0) === 1;
}

/**
 * Leases up to `limit` due deliveries to `owner` until `now + leaseMs`, oldest event first, in
 * the transaction the caller opens: a pending one whose attempt is due, or one whose worker's
 * lease ran out (that worker died or stalled).
 */
export async function claimDue(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
): Promise<ClaimedWebhook[]> {
  const due = (w: ExpressionBuilder<Database, 'webhook_deliveries'>) =>
    w.or([w.and([w('state', '=', 'pending'), w('next_attempt_at', '<=', now)]), w.and([w('state', '=', 'delivering'), w('lease_until', '<=', now)])]);
  let pick = trx.selectFrom('webhook_deliveries').select('event_id').where(due).orderBy('event_id').limit(limit);
  if (dialect === 'postgres') pick = pick.forUpdate().skipLocked();
  const ids = (await pick.execute()).map((r) => r.event_id);
  if (ids.length === 0) return [];
  const rows = await trx
    .updateTable('webhook_deliveries')
    .set((eb) => ({ state: 'delivering', lease_owner: owner, lease_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
    .where('event_id', 'in', ids)
    .where(due)
    .returning(['event_id', 'type', 'at', 'user_id', 'session_id', 'actor_id', 'detail', 'attempts', 'queued_at'])
    .execute();
  return rows.map((r) => ({ ...toEvent(r), attempts: Number(r.attempts), queuedAt: Number(r.queued_at) })).sort((a, b) => a.eventId - b.eventId);
}

/** Records a 2xx: only the worker that holds the lease can (a late one that lost it changes nothing). */
export async function markDelivered(db: Kysely<Database>, eventId: number, owner: string, now: number): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ state: 'delivered', delivered_at: now, lease_owner: null, lease_until: null, last_error: null })
    .where('event_id', '=', eventId)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'delivering')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Records a failed attempt: pending again from `retryAt`, or dead (`retryAt` `null`). */
export async function markFailed(db: Kysely<Database>, eventId: number, owner: string, retryAt: number | null, error: string): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set(
      retryAt === null
        ? { state: 'dead', lease_owner: null, lease_until: null, last_error: error }
        : { state: 'pending', next_attempt_at: retryAt, lease_owner: null, lease_until: null, last_error: error },
    )
    .where('event_id', '=', eventId)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'delivering')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Makes every pending delivery waiting out its backoff due at `now` (a worker starting). */
export async function expedite(db: Kysely<Database>, now: number): Promise<number> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ next_attempt_at: now })
    .where('state', '=', 'pending')
    .where('next_attempt_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Dead letters (all, or those of `eventIds`) pending again at `now`, with a fresh series of attempts. */
export async function requeueDead(db: Kysely<Database>, now: number, eventIds?: readonly number[]): Promise<number> {
  if (eventIds?.length === 0) return 0;
  let query = db
    .updateTable('webhook_deliveries')
    .set({ state: 'pending', attempts: 0, queued_at: now, next_attempt_at: now })
    .where('state', '=', 'dead');
  if (eventIds) query = query.where('event_id', 'in', [...eventIds]);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function listDeliveries(
  db: Kysely<Database>,
  options: { state?: WebhookState; afterId?: number; limit: number },
): Promise<WebhookDeliveryRecord[]> {
  let query = db.selectFrom('webhook_deliveries').selectAll().orderBy('event_id').limit(options.limit);
  if (options.state !== undefined) query = query.where('state', '=', options.state);
  if (options.afterId !== undefined) query = query.where('event_id', '>', options.afterId);
  return (await query.execute()).map(toRecord);
}

export async function countDeliveries(db: Kysely<Database>): Promise<Record<WebhookState, number>> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute();
  const counts = Object.fromEntries(WEBHOOK_STATES.map((s) => [s, 0])) as Record<WebhookState, number>;
  for (const row of rows) if (WEBHOOK_STATES.includes(row.state as WebhookState)) counts[row.state as WebhookState] = Number(row.n);
  return counts;
}

/** Deletes deliveries delivered before `deliveredBefore`, and dead letters queued before `deadBefore`. */
export async function purgeDeliveries(db: Kysely<Database>, deliveredBefore: number, deadBefore: number): Promise<number> {
  const result = await db
    .deleteFrom('webhook_deliveries')
    .where((eb) =>
      eb.or([
        eb.and([eb('state', '=', 'delivered'), eb('delivered_at', '<', deliveredBefore)]),
        eb.and([eb('state', '=', 'dead'), eb('queued_at', '<', deadBefore)]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
