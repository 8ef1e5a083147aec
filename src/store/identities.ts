/**
 * The store's external identities (docs/oidc.md): accounts at an OpenID Connect provider or
 * GitHub linked to local accounts. The race-sensitive steps are single transactions: a new
 * account and its identity are inserted together (two callbacks for one address leave one
 * account), and an unlink counts the account's other ways to sign in under the user row's lock,
 * so two unlinks racing never remove the last one.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, IdentitiesTable } from './schema.js';
import type { IdentityRecord, NewIdentity } from './types.js';

export function toIdentity(row: Selectable<IdentitiesTable>): IdentityRecord {
  return {
    id: row.id,
    userId: row.user_id,
    provider: row.provider,
    subject: row.subject,
    email: row.email,
    createdAt: Number(row.created_at),
  };
}

export function identityRow(identity: NewIdentity): IdentitiesTable {
  return {
    id: identity.id,
    user_id: identity.userId,
    provider: identity.provider,
    subject: identity.subject,
    email: identity.email,
    created_at: identity.now,
  };
}

/** Whether `error` is the unique violation of (`provider`, `subject`). */
export function isIdentityUniqueViolation(error: unknown): boolean {
  const { code, constraint, message } = (error ?? {}) as { code?: unknown; constraint?: unknown; message?: unknown };
  if (code === '23505') return constraint === 'identities_provider_subject_key';
  return code === 'SQLITE_CONSTRAINT_UNIQUE' && typeof message === 'string' && message.includes('identities.provider');
}

/**
 * Inside a transaction: deletes identity `identityId` of `userId` unless it is the account's
 * last way to sign in — a password, another identity or a passkey must remain.
 */
export async function unlinkIdentity(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  userId: string,
  identityId: string,
): Promise<{ outcome: 'unlinked'; identity: IdentityRecord } | { outcome: 'not_found' | 'last_method' }> {
  // The user row locked (PostgreSQL; SQLite's single writer serialises anyway): two unlinks of
  // one account run one after the other, and the second counts what the first left.
  const find = trx.selectFrom('users').select(['id', 'password_hash']).where('id', '=', userId);
  const user = await (dialect === 'postgres' ? find.forUpdate() : find).executeTakeFirst();
  if (!user) return { outcome: 'not_found' };
  const identity = await trx.selectFrom('identities').selectAll().where('id', '=', identityId).where('user_id', '=', userId).executeTakeFirst();
  if (!identity) return { outcome: 'not_found' };
  const { others } = await trx
    .selectFrom('identities')
    .select((eb) => eb.fn.countAll<number>().as('others'))
    .where('user_id', '=', userId)
    .where('id', '!=', identityId)
    .executeTakeFirstOrThrow();
  const { passkeys } = await trx
    .selectFrom('passkeys')
    .select((eb) => eb.fn.countAll<number>().as('passkeys'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  if (user.password_hash === '' && Number(others) === 0 && Number(passkeys) === 0) return { outcome: 'last_method' };
  await trx.deleteFrom('identities').where('id', '=', identityId).execute();
  return { outcome: 'unlinked', identity: toIdentity(identity) };
}
