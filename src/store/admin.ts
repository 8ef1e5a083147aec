/**
 * The store's side of administration (docs/admin.md): the user list (a keyset read), an admin's
 * change of an account, the deletion of an account with everything it owns, and the audit query.
 * Changes that could leave no enabled admin take one lock (`admins`: a PostgreSQL advisory lock;
 * SQLite's single writer serialises anyway), so two admins demoting each other at once cannot
 * both succeed.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { Backend } from './backend.js';
import type { Database, UsersTable } from './schema.js';
import type { AdminActor, AdminOutcome, AuditEventInput, AuditQuery, UserChange, UserCursor } from './types.js';
import { auditRow } from './statements.js';
import { endSessionsOf } from './user-sessions.js';

/**
 * Every table holding rows owned by one account, by the column naming it: deleting an account
 * deletes its rows in each. A table added later that names a user must be listed here — the
 * store conformance suite checks every table of the schema after a deletion.
 */
const OWNED_ROWS = [
  ['webauthn_challenges', 'user_id'],
  ['mfa_tokens', 'user_id'],
  ['recovery_codes', 'user_id'],
  ['totp_factors', 'user_id'],
  ['passkeys', 'user_id'],
  ['identities', 'user_id'],
  ['link_tokens', 'user_id'],
  ['mail_queue', 'user_id'],
  ['sessions', 'user_id'],
] as const;

/** Details of audit rows that could identify a deleted person beyond their id: erased with the account. */
export const PERSONAL_DETAIL: ReadonlySet<string> = new Set([
  'email',
  'emailDomain',
  'previousDomain',
  'newEmail',
  'previousEmail',
  'userAgent',
  'ip',
  'account',
]);

type UserRow = Selectable<UsersTable>;

/** `%`, `_` and the escape character itself match literally in a LIKE pattern escaped with `\`. */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function listUsers(
  db: Kysely<Database>,
  { query, after, limit }: { query?: string; after?: UserCursor; limit: number },
): Promise<UserRow[]> {
  let select = db.selectFrom('users').selectAll().orderBy('created_at').orderBy('id').limit(limit);
  if (after) {
    select = select.where((eb) =>
      eb.or([eb('created_at', '>', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '>', after.id)])]),
    );
  }
  if (query !== undefined && query !== '') {
    select = select.where((eb) => eb.or([eb(sql`lower(email)`, 'like', sql`${likePattern(query)} escape ${'\\'}`), eb('id', '=', query)]));
  }
  return select.execute();
}

const isActiveAdmin = (role: string, disabledAt: number | null) => role === 'admin' && disabledAt === null;

/**
 * Under the `admins` lock: the account (locked on PostgreSQL), and whether taking its enabled-admin
 * status away would leave no enabled admin.
 */
async function lockTarget(backend: Backend, trx: Kysely<Database>, userId: string): Promise<{ row: UserRow; onlyAdmin: boolean } | undefined> {
  await backend.lockInTransaction(trx, 'admins');
  const find = trx.selectFrom('users').selectAll().where('id', '=', userId);
  const row = await (backend.dialect === 'postgres' ? find.forUpdate() : find).executeTakeFirst();
  if (!row) return undefined;
  if (!isActiveAdmin(row.role, row.disabled_at)) return { row, onlyAdmin: false };
  const other = await trx
    .selectFrom('users')
    .select('id')
    .where('role', '=', 'admin')
    .where('disabled_at', 'is', null)
    .where('id', '<>', userId)
    .limit(1)
    .executeTakeFirst();
  return { row, onlyAdmin: other === undefined };
}

export async function updateUser(
  backend: Backend,
  trx: Kysely<Database>,
  userId: string,
  change: UserChange,
  now: number,
  actor: AdminActor,
): Promise<AdminOutcome<{ row: UserRow; revokedSessions: number; events: AuditEventInput[] }>> {
  const target = await lockTarget(backend, trx, userId);
  if (!target) return { ok: false, reason: 'no_user' };
  const { row, onlyAdmin } = target;
  const role = change.role ?? row.role;
  const wasDisabled = row.disabled_at !== null;
  const disabled = change.disabled ?? wasDisabled;
  if (onlyAdmin && !isActiveAdmin(role, disabled ? now : null)) return { ok: false, reason: 'last_admin' };

  const events: AuditEventInput[] = [];
  const event = (type: string, detail?: Record<string, unknown>) =>
    events.push({ type, at: now, userId, actorId: actor.actorId, ip: actor.ip, ...(detail ? { detail } : {}) });
  let revokedSessions = 0;
  if (role !== row.role) {
    await trx.updateTable('users').set({ role, updated_at: now }).where('id', '=', userId).execute();
    event('admin_role_changed', { from: row.role, to: role });
  }
  if (disabled && !wasDisabled) {
    await trx.updateTable('users').set({ disabled_at: now, updated_at: now }).where('id', '=', userId).execute();
    revokedSessions = await endSessionsOf(trx, userId, 'account_disabled', now, null);
    event('admin_user_disabled', { revokedSessions });
  } else if (!disabled && wasDisabled) {
    await trx.updateTable('users').set({ disabled_at: null, updated_at: now }).where('id', '=', userId).execute();
    event('admin_user_enabled');
  }
  if (change.emailVerified === true && row.email_verified_at === null) {
    await trx.updateTable('users').set({ email_verified_at: now, updated_at: now }).where('id', '=', userId).execute();
    event('admin_email_verified');
  } else if (change.emailVerified === false && row.email_verified_at !== null) {
    await trx.updateTable('users').set({ email_verified_at: null, updated_at: now }).where('id', '=', userId).execute();
    event('admin_email_unverified');
  }
  for (const e of events) await trx.insertInto('audit_events').values(auditRow(e)).execute();
  const after = await trx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
  return { ok: true, row: after, revokedSessions, events };
}

export async function deleteUser(
  backend: Backend,
  trx: Kysely<Database>,
  userId: string,
  now: number,
  actor: AdminActor,
): Promise<AdminOutcome<{ event: AuditEventInput }>> {
  const target = await lockTarget(backend, trx, userId);
  if (!target) return { ok: false, reason: 'no_user' };
  if (target.onlyAdmin) return { ok: false, reason: 'last_admin' };
  // Second-factor challenges of the user's login steps name the step, not always the user.
  await trx
    .deleteFrom('webauthn_challenges')
    .where('mfa_token_mac', 'in', (eb) => eb.selectFrom('mfa_tokens').select('token_mac').where('user_id', '=', userId))
    .execute();
  for (const [table, column] of OWNED_ROWS) {
    await trx.deleteFrom(table).where(sql.ref(column), '=', userId).execute();
  }
  await eraseFromAudit(trx, userId);
  await trx.deleteFrom('users').where('id', '=', userId).execute();
  const event: AuditEventInput = {
    type: 'admin_user_deleted',
    at: now,
    userId,
    actorId: actor.actorId,
    ip: actor.ip,
    detail: { role: target.row.role },
  };
  await trx.insertInto('audit_events').values(auditRow(event)).execute();
  return { ok: true, event };
}

/**
 * The audit rows about or by `userId` keep the id; their IP and personal details go — from the
 * webhook outbox's copies too (which have no IP, and whose bodies never carry those details).
 */
async function eraseFromAudit(trx: Kysely<Database>, userId: string): Promise<void> {
  const copies = await trx
    .selectFrom('webhook_deliveries')
    .select(['event_id', 'detail'])
    .where((eb) => eb.or([eb('user_id', '=', userId), eb('actor_id', '=', userId)]))
    .execute();
  for (const { event_id, detail } of copies) {
    const kept = withoutPersonalDetail(detail);
    if (kept !== undefined) await trx.updateTable('webhook_deliveries').set({ detail: kept }).where('event_id', '=', event_id).execute();
  }
  const rows = await trx
    .selectFrom('audit_events')
    .select(['id', 'detail'])
    .where((eb) => eb.or([eb('user_id', '=', userId), eb('actor_id', '=', userId)]))
    .execute();
  await trx
    .updateTable('audit_events')
    .set({ ip: null })
    .where((eb) => eb.or([eb('user_id', '=', userId), eb('actor_id', '=', userId)]))
    .execute();
  for (const { id, detail } of rows) {
    const kept = withoutPersonalDetail(detail);
    if (kept !== undefined) await trx.updateTable('audit_events').set({ detail: kept }).where('id', '=', id).execute();
  }
}

/** A detail's JSON without the {@link PERSONAL_DETAIL} keys, or `undefined` when it has none. */
function withoutPersonalDetail(detail: string | null): string | undefined {
  if (detail === null) return undefined;
  const parsed = JSON.parse(detail) as Record<string, unknown>;
  const kept = Object.fromEntries(Object.entries(parsed).filter(([key]) => !PERSONAL_DETAIL.has(key)));
  return Object.keys(kept).length === Object.keys(parsed).length ? undefined : JSON.stringify(kept);
}

export function queryAudit(db: Kysely<Database>, { userId, actorId, type, before, limit }: AuditQuery) {
  let select = db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(limit);
  if (userId !== undefined) select = select.where((eb) => eb.or([eb('user_id', '=', userId), eb('actor_id', '=', userId)]));
  if (actorId !== undefined) select = select.where('actor_id', '=', actorId);
  if (type !== undefined) select = select.where('type', '=', type);
  if (before !== undefined) select = select.where('id', '<', before);
  return select.execute();
}
