/**
 * Ending every session of a user inside a transaction: shared by the password change, "sign out
 * everywhere" and the admin's disabling of an account.
 */
import type { Kysely } from 'kysely';
import { voidLinks } from './mail.js';
import type { Database } from './schema.js';
import type { RevokeReason } from './types.js';

/**
 * Inside a transaction: advances the user's credential generation (first, so that on PostgreSQL
 * the user row is locked before the sessions are read), then revokes the live sessions of the
 * user (optionally all but one). Shared by `changePassword` and `revokeUserSessions`.
 */
export async function endSessionsOf(
  trx: Kysely<Database>,
  userId: string,
  reason: RevokeReason,
  now: number,
  exceptSessionId: string | null | undefined,
  passwordHash?: string,
): Promise<number> {
  await trx
    .updateTable('users')
    .set((eb) => ({
      credential_generation: eb('credential_generation', '+', 1),
      ...(passwordHash === undefined ? {} : { password_hash: passwordHash, updated_at: now }),
    }))
    .where('id', '=', userId)
    .execute();
  let query = trx
    .updateTable('sessions')
    .set({ revoked_at: now, revoked_reason: reason })
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null);
  if (exceptSessionId != null) query = query.where('id', '<>', exceptSessionId);
  const result = await query.executeTakeFirst();
  // A new password voids the reset and address-change links still out (docs/email.md).
  if (passwordHash !== undefined) await voidLinks(trx, userId, ['reset', 'email_change'], now);
  return Number(result.numUpdatedRows);
}
