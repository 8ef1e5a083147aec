/**
 * The store's second-factor tables (docs/mfa.md): TOTP factors, recovery codes and the second
 * step of logins (`mfa_tokens`); a passkey completing that step advances its counter here too. Each function runs on the handle `KyselyStore` gives it (a
 * transaction where several writes must hold together); every race-sensitive step is one
 * conditional UPDATE, so the database decides who wins — a TOTP time step is accepted once for
 * an account, a recovery code and an mfa token are used once, also across instances.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, MfaTokensTable, TotpFactorsTable } from './schema.js';
import { advanceCounter } from './passkeys.js';
import type { FactorRecord, MfaTokenRecord, NewMfaToken, SecondFactorProof, TotpFactorRecord } from './types.js';

/** Thrown inside a transaction to roll it back with an outcome. */
class Rollback<T> {
  constructor(readonly value: T) {}
}

/**
 * Runs `fn` in a transaction of `transaction`; when `fn` calls `rollback(value)` the transaction
 * is rolled back and `value` is the result.
 */
export async function withRollback<T, R>(
  transaction: <X>(fn: (trx: Kysely<Database>) => Promise<X>) => Promise<X>,
  fn: (trx: Kysely<Database>, rollback: (value: R) => never) => Promise<T>,
): Promise<T | R> {
  try {
    return await transaction((trx) =>
      fn(trx, (value) => {
        throw new Rollback(value);
      }),
    );
  } catch (error) {
    if (error instanceof Rollback) return error.value as R;
    throw error;
  }
}

export function toTotpFactor(row: Selectable<TotpFactorsTable>): TotpFactorRecord {
  return {
    id: row.id,
    userId: row.user_id,
    secretSealed: row.secret_sealed,
    createdAt: Number(row.created_at),
    confirmedAt: row.confirmed_at === null ? null : Number(row.confirmed_at),
    lastStep: row.last_step === null ? null : Number(row.last_step),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

function toMfaToken(row: Selectable<MfaTokensTable>): MfaTokenRecord {
  let amr: string[] = ['pwd'];
  try {
    const parsed: unknown = JSON.parse(row.amr);
    if (Array.isArray(parsed) && parsed.every((m) => typeof m === 'string')) amr = parsed as string[];
  } catch {
    // a password step, as stored by every writer so far
  }
  return {
    mac: row.token_mac,
    userId: row.user_id,
    amr,
    credentialGeneration: Number(row.credential_generation),
    dpopJkt: row.dpop_jkt,
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

export async function saveTotpEnrollment(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  enrollment: { id: string; userId: string; secretSealed: string; now: number },
): Promise<'saved' | 'enrolled' | 'no_user'> {
  // The user row locked (PostgreSQL; SQLite's single writer serialises anyway): two enrolments
  // of one user run one after the other.
  const find = trx.selectFrom('users').select('id').where('id', '=', enrollment.userId);
  if (!(await (dialect === 'postgres' ? find.forUpdate() : find).executeTakeFirst())) return 'no_user';
  const existing = await trx.selectFrom('totp_factors').select('confirmed_at').where('user_id', '=', enrollment.userId).executeTakeFirst();
  if (existing && existing.confirmed_at !== null) return 'enrolled';
  if (existing) await trx.deleteFrom('totp_factors').where('user_id', '=', enrollment.userId).execute();
  await trx
    .insertInto('totp_factors')
    .values({
      user_id: enrollment.userId,
      id: enrollment.id,
      secret_sealed: enrollment.secretSealed,
      created_at: enrollment.now,
      confirmed_at: null,
      last_step: null,
      last_used_at: null,
    })
    .execute();
  return 'saved';
}

export async function confirmTotp(
  trx: Kysely<Database>,
  userId: string,
  step: number,
  now: number,
  recoveryCodeMacs: readonly string[],
): Promise<boolean> {
  const confirmed = await trx
    .updateTable('totp_factors')
    .set({ confirmed_at: now, last_step: step, last_used_at: now })
    .where('user_id', '=', userId)
    .where('confirmed_at', 'is', null)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst();
  if (Number(confirmed.numUpdatedRows) !== 1) return false;
  await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  if (recoveryCodeMacs.length > 0) {
    await trx
      .insertInto('recovery_codes')
      .values(recoveryCodeMacs.map((mac) => ({ code_mac: mac, user_id: userId, created_at: now, used_at: null })))
      .execute();
  }
  return true;
}

export async function deleteTotp(trx: Kysely<Database>, userId: string): Promise<boolean> {
  const deleted = await trx.deleteFrom('totp_factors').where('user_id', '=', userId).executeTakeFirst();
  await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  return Number(deleted.numDeletedRows) > 0;
}

export async function listFactors(db: Kysely<Database>, userId: string): Promise<FactorRecord[]> {
  const totp = await db
    .selectFrom('totp_factors')
    .select(['id', 'created_at', 'last_used_at'])
    .where('user_id', '=', userId)
    .where('confirmed_at', 'is not', null)
    .execute();
  const passkeys = await db
    .selectFrom('passkeys')
    .select(['id', 'created_at', 'last_used_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const factor = (type: FactorRecord['type']) => (row: { id: string; created_at: number; last_used_at: number | null }) => ({
    id: row.id,
    type,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  });
  return [...totp.map(factor('totp')), ...passkeys.map(factor('webauthn'))];
}

export async function insertMfaToken(db: Kysely<Database>, token: NewMfaToken): Promise<void> {
  await db
    .insertInto('mfa_tokens')
    .values({
      token_mac: token.mac,
      user_id: token.userId,
      amr: JSON.stringify(token.amr),
      credential_generation: token.credentialGeneration,
      dpop_jkt: token.dpopJkt,
      attempts: 0,
      created_at: token.now,
      expires_at: token.expiresAt,
      used_at: null,
    })
    .execute();
}

export async function findLiveMfaToken(db: Kysely<Database>, mac: string, now: number, maxAttempts: number): Promise<MfaTokenRecord | undefined> {
  const row = await db
    .selectFrom('mfa_tokens')
    .selectAll()
    .where('token_mac', '=', mac)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .where('attempts', '<', maxAttempts)
    .executeTakeFirst();
  return row && toMfaToken(row);
}

export async function recordMfaFailure(db: Kysely<Database>, mac: string, now: number, maxAttempts: number): Promise<number | undefined> {
  const row = await db
    .updateTable('mfa_tokens')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('token_mac', '=', mac)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .where('attempts', '<', maxAttempts)
    .returning('attempts')
    .executeTakeFirst();
  return row === undefined ? undefined : Number(row.attempts);
}

/** Inside a transaction: the token used up, then the proof applied; `rollback` undoes the first when the second fails. */
export async function completeMfa(
  trx: Kysely<Database>,
  mac: string,
  userId: string,
  now: number,
  maxAttempts: number,
  proof: SecondFactorProof,
  rollback: (value: 'code_refused') => never,
): Promise<'ok' | 'token_invalid'> {
  const used = await trx
    .updateTable('mfa_tokens')
    .set({ used_at: now })
    .where('token_mac', '=', mac)
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .where('attempts', '<', maxAttempts)
    .executeTakeFirst();
  if (Number(used.numUpdatedRows) !== 1) return 'token_invalid';
  if (proof.kind === 'passkey') {
    if (proof.userId !== userId || !(await advanceCounter(trx, proof, now))) rollback('code_refused');
    return 'ok';
  }
  const applied =
    proof.kind === 'totp'
      ? await trx
          .updateTable('totp_factors')
          .set({ last_step: proof.step, last_used_at: now })
          .where('user_id', '=', userId)
          .where('confirmed_at', 'is not', null)
          .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', proof.step)]))
          .executeTakeFirst()
      : await trx
          .updateTable('recovery_codes')
          .set({ used_at: now })
          .where('code_mac', '=', proof.codeMac)
          .where('user_id', '=', userId)
          .where('used_at', 'is', null)
          .executeTakeFirst();
  if (Number(applied.numUpdatedRows) !== 1) rollback('code_refused');
  return 'ok';
}
