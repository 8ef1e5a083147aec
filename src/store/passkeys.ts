/**
 * The store's passkey tables (docs/mfa.md#passkeys): WebAuthn credentials and the single-use
 * challenges of registrations and assertions. Each function runs on the handle `KyselyStore`
 * gives it; the race-sensitive steps are one conditional UPDATE each, so the database decides
 * who wins — a challenge is consumed once, a sign counter only ever moves forward.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, PasskeysTable, WebauthnChallengesTable } from './schema.js';
import type { NewPasskey, PasskeyRecord, PasskeyUse, WebauthnChallengeKind, WebauthnChallengeRecord } from './types.js';

function toPasskey(row: Selectable<PasskeysTable>): PasskeyRecord {
  let transports: string[] = [];
  try {
    const parsed: unknown = row.transports === null ? [] : JSON.parse(row.transports);
    if (Array.isArray(parsed) && parsed.every((t) => typeof t === 'string')) transports = parsed as string[];
  } catch {
    // no hints: the browser tries every transport
  }
  return {
    id: row.id,
    userId: row.user_id,
    credentialId: row.credential_id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    userHandle: row.user_handle,
    transports,
    deviceType: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: Number(row.backed_up) === 1,
    name: row.name,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

function toChallenge(row: Selectable<WebauthnChallengesTable>): WebauthnChallengeRecord {
  return {
    challenge: row.challenge,
    kind: row.kind as WebauthnChallengeKind,
    userId: row.user_id,
    mfaTokenMac: row.mfa_token_mac,
    userHandle: row.user_handle,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

export async function insertChallenge(db: Kysely<Database>, record: WebauthnChallengeRecord): Promise<void> {
  await db.deleteFrom('webauthn_challenges').where('expires_at', '<=', record.createdAt).execute();
  await db
    .insertInto('webauthn_challenges')
    .values({
      challenge: record.challenge,
      kind: record.kind,
      user_id: record.userId,
      mfa_token_mac: record.mfaTokenMac,
      user_handle: record.userHandle,
      created_at: record.createdAt,
      expires_at: record.expiresAt,
      used_at: null,
    })
    .execute();
}

export async function consumeChallenge(
  db: Kysely<Database>,
  challenge: string,
  kind: WebauthnChallengeKind,
  now: number,
): Promise<WebauthnChallengeRecord | undefined> {
  const row = await db
    .updateTable('webauthn_challenges')
    .set({ used_at: now })
    .where('challenge', '=', challenge)
    .where('kind', '=', kind)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst();
  return row && toChallenge(row);
}

export async function insertPasskey(
  trx: Kysely<Database>,
  dialect: 'sqlite' | 'postgres',
  passkey: NewPasskey,
): Promise<'saved' | 'duplicate' | 'no_user'> {
  const find = trx.selectFrom('users').select('id').where('id', '=', passkey.userId);
  if (!(await (dialect === 'postgres' ? find.forUpdate() : find).executeTakeFirst())) return 'no_user';
  const inserted = await trx
    .insertInto('passkeys')
    .values({
      id: passkey.id,
      user_id: passkey.userId,
      credential_id: passkey.credentialId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      user_handle: passkey.userHandle,
      transports: JSON.stringify(passkey.transports),
      device_type: passkey.deviceType,
      backed_up: passkey.backedUp ? 1 : 0,
      name: passkey.name,
      created_at: passkey.createdAt,
      last_used_at: null,
    })
    .onConflict((oc) => oc.column('credential_id').doNothing())
    .executeTakeFirst();
  return Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1 ? 'saved' : 'duplicate';
}

export async function findPasskey(db: Kysely<Database>, credentialId: string): Promise<PasskeyRecord | undefined> {
  const row = await db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
  return row && toPasskey(row);
}

export async function listPasskeys(db: Kysely<Database>, userId: string): Promise<PasskeyRecord[]> {
  const rows = await db.selectFrom('passkeys').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
  return rows.map(toPasskey);
}

/** The conditional UPDATE of a sign-in: the counter only moves forward (both 0: no counter kept). */
export async function advanceCounter(db: Kysely<Database>, use: PasskeyUse, now: number): Promise<boolean> {
  const updated = await db
    .updateTable('passkeys')
    .set({ counter: use.counter, backed_up: use.backedUp ? 1 : 0, last_used_at: now })
    .where('id', '=', use.passkeyId)
    .where('user_id', '=', use.userId)
    .where((eb) => (use.counter === 0 ? eb('counter', '=', 0) : eb('counter', '<', use.counter)))
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1;
}

export async function deletePasskey(trx: Kysely<Database>, userId: string, id: string): Promise<boolean> {
  const deleted = await trx.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return Number(deleted.numDeletedRows) === 1;
}
