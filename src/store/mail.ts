/**
 * The store's e-mail tables: link tokens (`link_tokens`) and the durable mail queue
 * (`mail_queue`). Each function runs inside the transaction `KyselyStore` gives it, on either
 * dialect; the race-sensitive steps are single conditional statements, so the database decides
 * who wins (one consumer per link, one worker per mail).
 */
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import { ApiError } from '../errors.js';
import { isEmailUniqueViolation } from './errors.js';
import type { Database, UsersTable } from './schema.js';
import type { ClaimedMail, LinkCap, LinkKind, NewLink, NewMail } from './types.js';

type UserRow = Selectable<UsersTable>;

/** Marks the unused links of `kinds` of the user used (voided) at `now`. */
export async function voidLinks(trx: Kysely<Database>, userId: string, kinds: readonly LinkKind[], now: number): Promise<void> {
  await trx
    .updateTable('link_tokens')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('kind', 'in', [...kinds])
    .where('used_at', 'is', null)
    .execute();
}

export async function insertLink(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  link: NewLink,
  cap?: LinkCap,
): Promise<'issued' | 'capped' | 'no_user'> {
  // The user row locked (PostgreSQL; SQLite's single writer serialises anyway): concurrent
  // requests for one user count and insert one after the other, so the cap holds.
  const find = trx.selectFrom('users').select('id').where('id', '=', link.userId);
  const user = await (dialect === 'postgres' ? find.forUpdate() : find).executeTakeFirst();
  if (!user) return 'no_user';
  if (cap) {
    const { n } = await trx
      .selectFrom('link_tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', link.userId)
      .where('kind', '=', link.kind)
      .where('created_at', '>', link.now - cap.windowMs)
      .executeTakeFirstOrThrow();
    if (Number(n) >= cap.max) return 'capped';
  }
  await voidLinks(trx, link.userId, [link.kind], link.now);
  await trx
    .insertInto('link_tokens')
    .values({
      token_mac: link.mac,
      user_id: link.userId,
      kind: link.kind,
      new_email: link.newEmail ?? null,
      created_at: link.now,
      expires_at: link.expiresAt,
      used_at: null,
    })
    .execute();
  return 'issued';
}

/** Queues `mail` for `userId` (the account it is about, deleted with it), if any. */
export async function insertMail(trx: Kysely<Database>, mail: NewMail, userId: string | null): Promise<void> {
  await trx
    .insertInto('mail_queue')
    .values({
      id: mail.id,
      kind: mail.kind,
      state: 'queued',
      sealed: mail.sealed,
      created_at: mail.now,
      next_attempt_at: mail.now,
      lease_owner: null,
      lease_until: null,
      sent_at: null,
      last_error: null,
      user_id: userId,
    })
    .execute();
}

/**
 * Uses the link `mac` if it is of one of `kinds`, unused and unexpired: one conditional
 * update, so of concurrent callers exactly one gets the row.
 */
async function consumeLink(
  trx: Kysely<Database>,
  mac: string,
  kinds: readonly LinkKind[],
  now: number,
): Promise<{ user_id: string; kind: string; new_email: string | null } | undefined> {
  return trx
    .updateTable('link_tokens')
    .set({ used_at: now })
    .where('token_mac', '=', mac)
    .where('kind', 'in', [...kinds])
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returning(['user_id', 'kind', 'new_email'])
    .executeTakeFirst();
}

async function userRow(trx: Kysely<Database>, id: string): Promise<UserRow> {
  return trx.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export async function applyReset(
  trx: Kysely<Database>,
  mac: string,
  passwordHash: string,
  now: number,
): Promise<{ user: UserRow; revoked: number } | undefined> {
  const link = await consumeLink(trx, mac, ['reset'], now);
  if (!link) return undefined;
  await trx
    .updateTable('users')
    .set((eb) => ({
      password_hash: passwordHash,
      updated_at: now,
      credential_generation: eb('credential_generation', '+', 1),
      email_verified_at: eb.fn.coalesce('email_verified_at', eb.val(now)),
    }))
    .where('id', '=', link.user_id)
    .execute();
  const revoked = await trx
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: 'password_reset' })
    .where('user_id', '=', link.user_id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  await voidLinks(trx, link.user_id, ['reset', 'email_change'], now);
  return { user: await userRow(trx, link.user_id), revoked: Number(revoked.numUpdatedRows) };
}

export async function applyVerification(
  trx: Kysely<Database>,
  mac: string,
  now: number,
): Promise<{ kind: 'verify' | 'email_change'; user: UserRow; previousEmail: string | null } | undefined> {
  const link = await consumeLink(trx, mac, ['verify', 'email_change'], now);
  if (!link) return undefined;
  const before = await userRow(trx, link.user_id);
  if (link.kind === 'verify') {
    await trx
      .updateTable('users')
      .set((eb) => ({ email_verified_at: eb.fn.coalesce('email_verified_at', eb.val(now)) }))
      .where('id', '=', link.user_id)
      .execute();
    await voidLinks(trx, link.user_id, ['verify'], now);
    return { kind: 'verify', user: await userRow(trx, link.user_id), previousEmail: null };
  }
  const newEmail = link.new_email;
  if (newEmail === null) return undefined;
  try {
    await trx.updateTable('users').set({ email: newEmail, email_verified_at: now, updated_at: now }).where('id', '=', link.user_id).execute();
  } catch (error) {
    if (isEmailUniqueViolation(error)) throw new ApiError('EMAIL_TAKEN');
    throw error;
  }
  // The old address's verification links no longer prove anything.
  await voidLinks(trx, link.user_id, ['reset', 'email_change', 'verify'], now);
  return { kind: 'email_change', user: await userRow(trx, link.user_id), previousEmail: before.email };
}

/**
 * Takes the lease of up to `limit` due mails, in the transaction the caller opens. On PostgreSQL
 * the candidates are picked `FOR UPDATE SKIP LOCKED`, so concurrent workers pick different rows
 * instead of queueing on the same ones; on SQLite the single writer serialises them.
 */
export async function claimDueMail(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
  dueBy: number,
): Promise<ClaimedMail[]> {
  // A held mail is taken over only once its lease has really expired (at `now`, never `dueBy`).
  const due = (w: ExpressionBuilder<Database, 'mail_queue'>) =>
    w.or([w.and([w('state', '=', 'queued'), w('next_attempt_at', '<=', dueBy)]), w.and([w('state', '=', 'sending'), w('lease_until', '<=', now)])]);
  // Two statements in the caller's transaction: pick the candidates (PostgreSQL: locked, skipping
  // rows another worker is picking — a LIMIT inside `id IN (…)` is not a bound there, the planner
  // may run the subquery again per row), then take them, the due condition checked on each row again.
  let pick = trx.selectFrom('mail_queue').select('id').where(due).orderBy('next_attempt_at').limit(limit);
  if (dialect === 'postgres') pick = pick.forUpdate().skipLocked();
  const ids = (await pick.execute()).map((r) => r.id);
  if (ids.length === 0) return [];
  const rows = await trx
    .updateTable('mail_queue')
    .set((eb) => ({ state: 'sending', lease_owner: owner, lease_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
    .where('id', 'in', ids)
    .where(due)
    .returning(['id', 'kind', 'sealed', 'attempts', 'created_at'])
    .execute();
  return rows.flatMap((r) =>
    r.sealed === null ? [] : [{ id: r.id, kind: r.kind, sealed: r.sealed, attempts: Number(r.attempts), createdAt: Number(r.created_at) }],
  );
}

export async function finishMail(trx: Kysely<Database>, id: string, owner: string, now: number): Promise<boolean> {
  const result = await trx
    .updateTable('mail_queue')
    .set({ state: 'sent', sealed: null, sent_at: now, lease_owner: null, lease_until: null, last_error: null })
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'sending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseMail(trx: Kysely<Database>, id: string, owner: string, retryAt: number | null, error: string): Promise<boolean> {
  const result = await trx
    .updateTable('mail_queue')
    .set(
      retryAt === null
        ? { state: 'dead', sealed: null, lease_owner: null, lease_until: null, last_error: error }
        : { state: 'queued', next_attempt_at: retryAt, lease_owner: null, lease_until: null, last_error: error },
    )
    .where('id', '=', id)
    .where('lease_owner', '=', owner)
    .where('state', '=', 'sending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Makes every queued mail due at `now` (SMTP is back: no mail waits out its backoff). */
export async function expediteQueuedMail(trx: Kysely<Database>, now: number): Promise<number> {
  const result = await trx
    .updateTable('mail_queue')
    .set({ next_attempt_at: now })
    .where('state', '=', 'queued')
    .where('next_attempt_at', '>', now)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function countMail(trx: Kysely<Database>): Promise<Record<'queued' | 'sending' | 'sent' | 'dead', number>> {
  const rows = await trx
    .selectFrom('mail_queue')
    .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
    .groupBy('state')
    .execute();
  const counts = { queued: 0, sending: 0, sent: 0, dead: 0 };
  for (const row of rows) if (row.state in counts) counts[row.state as keyof typeof counts] = Number(row.n);
  return counts;
}
