/**
 * The one implementation of {@link Store}: Kysely queries shared by SQLite and PostgreSQL.
 * Dialect differences live in the {@link Backend} it is given.
 */
import type { Kysely, Selectable } from 'kysely';
import { ApiError } from '../errors.js';
import type { Backend, StoreLogger } from './backend.js';
import { isConnectionError, isEmailUniqueViolation, isUniqueViolation, toStoreError } from './errors.js';
import type { AuditEventsTable, Database, SessionsTable, SigningKeysTable, UsersTable } from './schema.js';
import {
  applyReset,
  applyVerification,
  claimDueMail,
  countMail,
  expediteQueuedMail,
  finishMail,
  insertLink,
  insertMail,
  releaseMail,
} from './mail.js';
import { deleteUser, listUsers, queryAudit, updateUser } from './admin.js';
import { endSessionsOf } from './user-sessions.js';
import {
  completeMfa,
  confirmTotp,
  deleteTotp,
  findLiveMfaToken,
  insertMfaToken,
  listFactors,
  recordMfaFailure,
  saveTotpEnrollment,
  toTotpFactor,
  withRollback,
} from './mfa.js';
import { advanceCounter, consumeChallenge, deletePasskey, findPasskey, insertChallenge, insertPasskey, listPasskeys } from './passkeys.js';
import { auditArgs, auditRow, sessionArgs, type RotationArgs, type SessionRow, type SessionUserRow, type Statements } from './statements.js';
import {
  claimDue,
  countDeliveries,
  expedite,
  listDeliveries,
  markDelivered,
  markFailed,
  outboxEnabled,
  purgeDeliveries,
  requeueDead,
  setOutbox,
} from './webhooks.js';
import { identityRow, isIdentityUniqueViolation, toIdentity, unlinkIdentity } from './identities.js';
import type {
  AdminActor,
  AdminOutcome,
  AuditQuery,
  UserChange,
  UserCursor,
  AuditEventInput,
  AuditEventRecord,
  ClaimedMail,
  ClaimedWebhook,
  WebhookDeliveryRecord,
  WebhookState,
  FactorRecord,
  IdentityRecord,
  LinkCap,
  NewIdentity,
  MfaTokenRecord,
  NewMfaToken,
  NewPasskey,
  PasskeyRecord,
  PasskeyUse,
  SecondFactorProof,
  TotpFactorRecord,
  WebauthnChallengeKind,
  WebauthnChallengeRecord,
  NewLink,
  NewMail,
  NewSession,
  NewUser,
  RevokeReason,
  Role,
  RotateResult,
  Rotation,
  SessionRecord,
  SessionWithUser,
  SigningKeyRecord,
  RotationOutcome,
  SigningKeyState,
  Store,
  UserRecord,
  VerifiedEmail,
  WriteAudit,
} from './types.js';

/** Default and maximum page size of {@link Store.listAudit}. */
const AUDIT_DEFAULT_LIMIT = 100;
const AUDIT_MAX_LIMIT = 1_000;

/**
 * Read-only operations retried once on PostgreSQL after a connection failure: a connection the
 * server dropped (restart, failover, idle kill) may still be handed out once by the pool; the
 * retry gets a fresh one. Writes are never retried here — their outcome may be unknown.
 */
const RETRIED_READS = new Set([
  'ping',
  'findUserByEmail',
  'findUserById',
  'findSession',
  'findSessionWithUser',
  'listActiveSessions',
  'listSigningKeys',
  'listAudit',
  'listUserEmails',
  'listUsers',
  'queryAudit',
  'findTotpFactor',
  'listFactors',
  'countRecoveryCodes',
  'findMfaToken',
  'findPasskeyByCredentialId',
  'listPasskeys',
  'webhookOutboxEnabled',
  'listWebhooks',
  'webhookCounts',
]);
const READ_RETRY_DELAY_MS = 100;

type NewSigningKey = Omit<SigningKeyRecord, 'state' | 'retiredAt' | 'expiresAt'>;

function toUser(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    role: row.role,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    credentialGeneration: Number(row.credential_generation),
    emailVerifiedAt: row.email_verified_at === null ? null : Number(row.email_verified_at),
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
  };
}

function toSession(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    counter: Number(row.counter),
    rotatedAt: row.rotated_at === null ? null : Number(row.rotated_at),
    createdAt: Number(row.created_at),
    lastUsedAt: Number(row.last_used_at),
    idleExpiresAt: Number(row.idle_expires_at),
    absoluteExpiresAt: Number(row.absolute_expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    revokedReason: row.revoked_reason as RevokeReason | null,
    userAgent: row.user_agent,
    ip: row.ip,
    dpopJkt: row.dpop_jkt,
    amr: parseAmr(row.amr),
    acr: row.acr,
    authTime: row.auth_time === null ? Number(row.created_at) : Number(row.auth_time),
  };
}

/** The stored `amr` (JSON array text); anything unreadable counts as a password sign-in. */
function parseAmr(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value) && value.every((m) => typeof m === 'string')) return value as string[];
  } catch {
    // fall through
  }
  return ['pwd'];
}

function toSessionWithUser(row: SessionUserRow): SessionWithUser {
  return {
    session: toSession(row),
    user: toUser({
      id: row.user_id,
      email: row.user_email,
      password_hash: row.user_password_hash,
      role: row.user_role,
      created_at: row.user_created_at,
      updated_at: row.user_updated_at,
      credential_generation: row.user_credential_generation,
      email_verified_at: row.user_email_verified_at,
      disabled_at: row.user_disabled_at,
    }),
  };
}

/** The audit arguments of a logged write (type, ip, detail; the rest comes from the row). */
function writeAuditArgs(audit: WriteAudit): unknown[] {
  return [audit.type, audit.ip, audit.detail == null ? null : JSON.stringify(audit.detail)];
}

function toSigningKey(row: Selectable<SigningKeysTable>): SigningKeyRecord {
  return {
    kid: row.kid,
    alg: row.alg,
    publicJwk: row.public_jwk,
    privateKeySealed: row.private_key_sealed,
    state: row.state as SigningKeyState,
    createdAt: Number(row.created_at),
    retiredAt: row.retired_at === null ? null : Number(row.retired_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  };
}

function toAudit(row: Selectable<AuditEventsTable>): AuditEventRecord {
  return {
    id: Number(row.id),
    type: row.type,
    at: Number(row.at),
    userId: row.user_id,
    sessionId: row.session_id,
    actorId: row.actor_id,
    ip: row.ip,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as Record<string, unknown>),
  };
}

function newKeyRow(key: NewSigningKey, state: 'current' | 'next' = 'current'): Selectable<SigningKeysTable> {
  return {
    kid: key.kid,
    alg: key.alg,
    public_jwk: key.publicJwk,
    private_key_sealed: key.privateKeySealed,
    state,
    created_at: key.createdAt,
    retired_at: null,
    expires_at: null,
  };
}

export class KyselyStore implements Store {
  readonly dialect: 'sqlite' | 'postgres';
  readonly #backend: Backend;
  readonly #db: Kysely<Database>;
  readonly #statements: Statements;

  readonly #logger: StoreLogger | undefined;

  constructor(backend: Backend, logger?: StoreLogger) {
    this.#backend = backend;
    this.#logger = logger;
    this.#db = backend.db;
    this.#statements = backend.statements;
    this.dialect = backend.dialect;
  }

  /** Every public method runs through here: one place for serialisation and error mapping. */
  async #op<T>(operation: string, fn: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    try {
      return await this.#backend.exclusive(() => fn(this.#db));
    } catch (error) {
      if (this.dialect !== 'postgres' || !RETRIED_READS.has(operation) || !isConnectionError(error)) {
        throw toStoreError(operation, error);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, READ_RETRY_DELAY_MS));
    try {
      return await this.#backend.exclusive(() => fn(this.#db));
    } catch (error) {
      throw toStoreError(operation, error);
    }
  }

  migrate(): Promise<void> {
    return this.#op('migrate', async () => {
      const { results = [] } = await this.#backend.migrate();
      const applied = results.filter((r) => r.status === 'Success').map((r) => r.migrationName);
      if (applied.length > 0) this.#logger?.info({ dialect: this.dialect, applied }, 'store schema migrated');
    });
  }

  ping(): Promise<void> {
    return this.#op('ping', async (db) => {
      await db.selectNoFrom((eb) => eb.lit(1).as('one')).execute();
    });
  }

  close(): Promise<void> {
    return this.#backend.close().catch((error: unknown) => {
      throw toStoreError('close', error);
    });
  }

  // ── users ───────────────────────────────────────────────────────────────

  createUser(user: NewUser): Promise<UserRecord> {
    return this.#op('createUser', async (db) => {
      try {
        const row = await db
          .insertInto('users')
          .values({
            id: user.id,
            email: user.email,
            password_hash: user.passwordHash,
            role: user.role,
            created_at: user.now,
            updated_at: user.now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toUser(row);
      } catch (error) {
        if (isEmailUniqueViolation(error)) throw new ApiError('EMAIL_TAKEN');
        throw error;
      }
    });
  }

  findUserByEmail(email: string): Promise<UserRecord | undefined> {
    return this.#op('findUserByEmail', async () => {
      const { rows } = await this.#backend.execute(this.#statements.findUserByEmail, [email]);
      return rows[0] && toUser(rows[0]);
    });
  }

  findUserById(id: string): Promise<UserRecord | undefined> {
    return this.#op('findUserById', async () => {
      const { rows } = await this.#backend.execute(this.#statements.findUserById, [id]);
      return rows[0] && toUser(rows[0]);
    });
  }

  updateUserRole(userId: string, role: Role, now: number): Promise<boolean> {
    return this.#op('updateUserRole', async (db) => {
      const result = await db.updateTable('users').set({ role, updated_at: now }).where('id', '=', userId).executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  listUsers(options: { query?: string; after?: UserCursor; limit: number }): Promise<UserRecord[]> {
    return this.#op('listUsers', async (db) => (await listUsers(db, options)).map(toUser));
  }

  updateUser(
    userId: string,
    change: UserChange,
    now: number,
    actor: AdminActor,
  ): Promise<AdminOutcome<{ user: UserRecord; revokedSessions: number; events: AuditEventInput[] }>> {
    return this.#op('updateUser', () =>
      this.#backend.transaction(async (trx) => {
        const result = await updateUser(this.#backend, trx, userId, change, now, actor);
        if (!result.ok) return result;
        return { ok: true as const, user: toUser(result.row), revokedSessions: result.revokedSessions, events: result.events };
      }),
    );
  }

  deleteUser(userId: string, now: number, actor: AdminActor): Promise<AdminOutcome<{ event: AuditEventInput }>> {
    return this.#op('deleteUser', () => this.#backend.transaction((trx) => deleteUser(this.#backend, trx, userId, now, actor)));
  }

  queryAudit(query: AuditQuery): Promise<AuditEventRecord[]> {
    return this.#op('queryAudit', async (db) => (await queryAudit(db, query)).map(toAudit));
  }

  listUserEmails({ afterId, limit }: { afterId?: string; limit: number }): Promise<Array<{ id: string; email: string }>> {
    return this.#op('listUserEmails', async (db) => {
      let query = db.selectFrom('users').select(['id', 'email']).orderBy('id').limit(limit);
      if (afterId !== undefined) query = query.where('id', '>', afterId);
      return query.execute();
    });
  }

  updateUserEmail(userId: string, from: string, to: string, now: number): Promise<boolean> {
    return this.#op('updateUserEmail', async (db) => {
      try {
        const result = await db
          .updateTable('users')
          .set({ email: to, updated_at: now })
          .where('id', '=', userId)
          .where('email', '=', from)
          .executeTakeFirst();
        return Number(result.numUpdatedRows) > 0;
      } catch (error) {
        if (isEmailUniqueViolation(error)) throw new ApiError('EMAIL_TAKEN');
        throw error;
      }
    });
  }

  updatePasswordHash(userId: string, credentialGeneration: number, passwordHash: string, now: number): Promise<boolean> {
    return this.#op('updatePasswordHash', async (db) => {
      const result = await db
        .updateTable('users')
        .set({ password_hash: passwordHash, updated_at: now })
        .where('id', '=', userId)
        .where('credential_generation', '=', credentialGeneration)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  changePassword(userId: string, passwordHash: string, keepSessionId: string | null, now: number): Promise<number> {
    return this.#op('changePassword', () =>
      this.#backend.transaction((trx) => endSessionsOf(trx, userId, 'password_change', now, keepSessionId, passwordHash)),
    );
  }

  // ── sessions ────────────────────────────────────────────────────────────

  createSession(session: NewSession, audit: WriteAudit): Promise<SessionRecord | undefined> {
    return this.#op('createSession', async () => {
      const row: SessionRow = {
        id: session.id,
        user_id: session.userId,
        counter: 0,
        rotated_at: null,
        created_at: session.now,
        last_used_at: session.now,
        idle_expires_at: session.idleExpiresAt,
        absolute_expires_at: session.absoluteExpiresAt,
        revoked_at: null,
        revoked_reason: null,
        user_agent: session.userAgent,
        ip: session.ip,
        dpop_jkt: session.dpopJkt ?? null,
        amr: JSON.stringify(session.authentication?.amr ?? ['pwd']),
        acr: session.authentication?.acr ?? 'aal1',
        auth_time: session.authentication?.authTime ?? session.now,
      };
      const { credentialGenerationIs, insertSession, insertSessionLogged, insertAudit } = this.#statements;
      const { transactionSync, execute } = this.#backend;
      const guard = [session.userId, session.credentialGeneration];
      if (transactionSync) {
        // The credentials' guard inside the write transaction: SQLite admits one writer, so a
        // concurrent change of the generation commits either before this (nothing inserted) or
        // after it (and then revokes this session).
        const inserted = transactionSync((run) => {
          if (run(credentialGenerationIs, guard).rows.length === 0) return undefined;
          const created = run(insertSession, sessionArgs(row)).rows[0] as SessionRow;
          run(insertAudit, auditArgs(auditRow({ ...audit, at: session.now, userId: session.userId, sessionId: session.id })));
          return created;
        });
        return inserted && toSession(inserted);
      }
      const { rows } = await execute(insertSessionLogged!, [...sessionArgs(row), ...writeAuditArgs(audit), ...guard]);
      return rows[0] && toSession(rows[0]);
    });
  }

  findSession(id: string): Promise<SessionRecord | undefined> {
    return this.#op('findSession', async () => {
      const { rows } = await this.#backend.execute(this.#statements.findSession, [id]);
      return rows[0] && toSession(rows[0]);
    });
  }

  findSessionWithUser(id: string): Promise<SessionWithUser | undefined> {
    return this.#op('findSessionWithUser', async () => {
      const { rows } = await this.#backend.execute(this.#statements.findSessionWithUser, [id]);
      return rows[0] && toSessionWithUser(rows[0]);
    });
  }

  rotateSession(rotation: Rotation): Promise<RotateResult> {
    return this.#op('rotateSession', async (): Promise<RotateResult> => {
      // The compare-and-swap is one statement, so the database serialises concurrent callers on
      // the row and exactly one of them sees `counter = expectedCounter`. Its audit row is
      // written in the same transaction (PostgreSQL: the same statement).
      const { id, expectedCounter, now, idleExpiresAt, audit } = rotation;
      const args: RotationArgs = [id, expectedCounter, now, idleExpiresAt, rotation.proofJkt ?? null];
      const { rotateSession, rotateSessionLogged, insertAudit, findSessionWithUser } = this.#statements;
      const { transactionSync, execute } = this.#backend;
      if (transactionSync) {
        const { rotated, row } = transactionSync((run) => {
          const swapped = run(rotateSession, args).changes === 1;
          const read = run(findSessionWithUser, [id]).rows[0];
          if (swapped && read) run(insertAudit, auditArgs(auditRow({ ...audit, at: now, userId: read.user_id, sessionId: id })));
          return { rotated: swapped, row: read };
        });
        if (rotated && row) return { ok: true, ...toSessionWithUser(row) };
        return { ok: false, found: row && toSessionWithUser(row) };
      }
      const swapped = (await execute(rotateSessionLogged!, [...args, ...writeAuditArgs(audit)])).rows[0];
      if (swapped) return { ok: true, ...toSessionWithUser(swapped) };
      const current = (await execute(findSessionWithUser, [id])).rows[0];
      return { ok: false, found: current && toSessionWithUser(current) };
    });
  }

  revokeSession(id: string, reason: RevokeReason, now: number): Promise<boolean> {
    return this.#op('revokeSession', async () => {
      const { changes } = await this.#backend.execute(this.#statements.revokeSession, [id, reason, now]);
      return changes > 0;
    });
  }

  revokeUserSessions(userId: string, reason: RevokeReason, now: number, exceptSessionId?: string): Promise<number> {
    return this.#op('revokeUserSessions', () => this.#backend.transaction((trx) => endSessionsOf(trx, userId, reason, now, exceptSessionId)));
  }

  listActiveSessions(userId: string, now: number): Promise<SessionRecord[]> {
    return this.#op('listActiveSessions', async (db) => {
      const rows = await db
        .selectFrom('sessions')
        .selectAll()
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where('idle_expires_at', '>', now)
        .where('absolute_expires_at', '>', now)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return rows.map(toSession);
    });
  }

  purgeSessions(before: number): Promise<number> {
    return this.#op('purgeSessions', async (db) => {
      const result = await db
        .deleteFrom('sessions')
        .where((eb) => eb.or([eb('revoked_at', '<', before), eb('idle_expires_at', '<', before), eb('absolute_expires_at', '<', before)]))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  // ── signing keys ────────────────────────────────────────────────────────

  listSigningKeys(now: number): Promise<SigningKeyRecord[]> {
    return this.#op('listSigningKeys', async (db) => {
      const rows = await db
        .selectFrom('signing_keys')
        .selectAll()
        .where((eb) => eb.or([eb('state', 'in', ['current', 'next']), eb.and([eb('state', '=', 'retired'), eb('expires_at', '>', now)])]))
        .orderBy('created_at', 'desc')
        .orderBy('kid')
        .execute();
      return rows.map(toSigningKey);
    });
  }

  rotateSigningKey(key: NewSigningKey, now: number, retiredKeyExpiresAt: number, nextCreatedBy?: number): Promise<RotationOutcome> {
    return this.#op('rotateSigningKey', () =>
      this.#backend.transaction(async (trx): Promise<RotationOutcome> => {
        // Two concurrent rotations on PostgreSQL would each retire only the keys their own
        // snapshot saw and then collide on the one-current index; serialise them instead.
        await this.#backend.lockInTransaction(trx, 'signing_keys');
        if (nextCreatedBy !== undefined) {
          // Under the lock: of two racing rotations the second sees the next key the first inserted.
          const next = await trx.selectFrom('signing_keys').select('created_at').where('state', '=', 'next').executeTakeFirst();
          if (next && Number(next.created_at) > nextCreatedBy) return { rotated: false, nextCreatedAt: Number(next.created_at) };
        }
        await trx
          .updateTable('signing_keys')
          .set({ state: 'retired', retired_at: now, expires_at: retiredKeyExpiresAt })
          .where('state', '=', 'current')
          .execute();
        const promoted = await trx.updateTable('signing_keys').set({ state: 'current' }).where('state', '=', 'next').executeTakeFirst();
        await trx
          .insertInto('signing_keys')
          .values(newKeyRow(key, Number(promoted.numUpdatedRows) > 0 ? 'next' : 'current'))
          .execute();
        return { rotated: true };
      }),
    );
  }

  insertNextSigningKey(key: NewSigningKey): Promise<SigningKeyRecord> {
    return this.#op('insertNextSigningKey', async (db) => {
      // `signing_keys_one_next` admits one next key; a racing insert becomes a no-op.
      try {
        await db
          .insertInto('signing_keys')
          .values(newKeyRow(key, 'next'))
          .onConflict((oc) => oc.doNothing())
          .execute();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
      const next = await db.selectFrom('signing_keys').selectAll().where('state', '=', 'next').execute();
      if (next.length !== 1 || !next[0]) throw new Error(`Expected exactly one next signing key, found ${next.length}.`);
      return toSigningKey(next[0]);
    });
  }

  insertFirstSigningKey(key: NewSigningKey): Promise<SigningKeyRecord> {
    return this.#op('insertFirstSigningKey', async (db) => {
      // The partial unique index `signing_keys_one_current` admits one current key: a racing
      // second insert becomes a no-op (ON CONFLICT covers every unique index), never a second
      // signer. The read afterwards returns whichever insert won.
      try {
        await db
          .insertInto('signing_keys')
          .values(newKeyRow(key))
          .onConflict((oc) => oc.doNothing())
          .execute();
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
      }
      const current = await db.selectFrom('signing_keys').selectAll().where('state', '=', 'current').execute();
      if (current.length !== 1 || !current[0]) {
        throw new Error(`Expected exactly one current signing key, found ${current.length}.`);
      }
      return toSigningKey(current[0]);
    });
  }

  // ── audit ───────────────────────────────────────────────────────────────

  appendAudit(event: AuditEventInput): Promise<void> {
    return this.#op('appendAudit', async () => {
      await this.#backend.execute(this.#statements.insertAudit, auditArgs(auditRow(event)));
    });
  }

  listAudit(options: { afterId?: number; limit?: number } = {}): Promise<AuditEventRecord[]> {
    return this.#op('listAudit', async (db) => {
      const limit = Math.min(Math.max(Math.trunc(options.limit ?? AUDIT_DEFAULT_LIMIT), 1), AUDIT_MAX_LIMIT);
      if (options.afterId !== undefined) {
        // Tailing: the next `limit` events after `afterId`, oldest first.
        const rows = await db.selectFrom('audit_events').selectAll().where('id', '>', options.afterId).orderBy('id', 'asc').limit(limit).execute();
        return rows.map(toAudit);
      }
      // No cursor: the latest `limit` events, still returned oldest first (newest last).
      const rows = await db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(limit).execute();
      return rows.reverse().map(toAudit);
    });
  }

  purgeAudit(before: number): Promise<number> {
    return this.#op('purgeAudit', async (db) => {
      const result = await db.deleteFrom('audit_events').where('at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  // ── e-mail: links and the mail queue ────────────────────────────────────

  issueLink(link: NewLink, mail: NewMail, audit?: AuditEventInput, cap?: LinkCap): Promise<'issued' | 'capped' | 'no_user'> {
    return this.#op('issueLink', () =>
      this.#backend.transaction(async (trx) => {
        const outcome = await insertLink(trx, this.dialect, link, cap);
        if (outcome !== 'issued') return outcome;
        await insertMail(trx, mail, link.userId);
        if (audit) await trx.insertInto('audit_events').values(auditRow(audit)).execute();
        return outcome;
      }),
    );
  }

  enqueueMail(mail: NewMail, audit?: AuditEventInput): Promise<void> {
    return this.#op('enqueueMail', () =>
      this.#backend.transaction(async (trx) => {
        await insertMail(trx, mail, audit?.userId ?? null);
        if (audit) await trx.insertInto('audit_events').values(auditRow(audit)).execute();
      }),
    );
  }

  resetPassword(mac: string, passwordHash: string, now: number): Promise<{ user: UserRecord; revokedSessions: number } | undefined> {
    return this.#op('resetPassword', () =>
      this.#backend.transaction(async (trx) => {
        const done = await applyReset(trx, mac, passwordHash, now);
        return done && { user: toUser(done.user), revokedSessions: done.revoked };
      }),
    );
  }

  verifyEmail(mac: string, now: number): Promise<VerifiedEmail | undefined> {
    return this.#op('verifyEmail', () =>
      this.#backend.transaction(async (trx) => {
        const done = await applyVerification(trx, mac, now);
        return done && { kind: done.kind, user: toUser(done.user), previousEmail: done.previousEmail };
      }),
    );
  }

  claimMail(owner: string, now: number, leaseMs: number, limit: number, options: { dueBy?: number } = {}): Promise<ClaimedMail[]> {
    return this.#op('claimMail', () =>
      this.#backend.transaction((trx) => claimDueMail(trx, this.dialect, owner, now, leaseMs, limit, options.dueBy ?? now)),
    );
  }

  mailSent(id: string, owner: string, now: number): Promise<boolean> {
    return this.#op('mailSent', (db) => finishMail(db, id, owner, now));
  }

  mailFailed(id: string, owner: string, retryAt: number | null, error: string): Promise<boolean> {
    return this.#op('mailFailed', (db) => releaseMail(db, id, owner, retryAt, error));
  }

  expediteMail(now: number): Promise<number> {
    return this.#op('expediteMail', (db) => expediteQueuedMail(db, now));
  }

  mailQueueCounts(): Promise<Record<'queued' | 'sending' | 'sent' | 'dead', number>> {
    return this.#op('mailQueueCounts', (db) => countMail(db));
  }

  // ── webhooks: the outbox ────────────────────────────────────────────────

  setWebhookOutbox(enabled: boolean, now: number): Promise<boolean> {
    return this.#op('setWebhookOutbox', (db) => setOutbox(db, enabled, now));
  }

  webhookOutboxEnabled(): Promise<boolean> {
    return this.#op('webhookOutboxEnabled', (db) => outboxEnabled(db));
  }

  claimWebhooks(owner: string, now: number, leaseMs: number, limit: number): Promise<ClaimedWebhook[]> {
    return this.#op('claimWebhooks', () => this.#backend.transaction((trx) => claimDue(trx, this.dialect, owner, now, leaseMs, limit)));
  }

  webhookDelivered(eventId: number, owner: string, now: number): Promise<boolean> {
    return this.#op('webhookDelivered', (db) => markDelivered(db, eventId, owner, now));
  }

  webhookFailed(eventId: number, owner: string, retryAt: number | null, error: string): Promise<boolean> {
    return this.#op('webhookFailed', (db) => markFailed(db, eventId, owner, retryAt, error));
  }

  expediteWebhooks(now: number): Promise<number> {
    return this.#op('expediteWebhooks', (db) => expedite(db, now));
  }

  retryDeadWebhooks(now: number, eventIds?: readonly number[]): Promise<number> {
    return this.#op('retryDeadWebhooks', (db) => requeueDead(db, now, eventIds));
  }

  listWebhooks(options: { state?: WebhookState; afterId?: number; limit?: number } = {}): Promise<WebhookDeliveryRecord[]> {
    const limit = Math.min(Math.max(Math.trunc(options.limit ?? AUDIT_DEFAULT_LIMIT), 1), AUDIT_MAX_LIMIT);
    return this.#op('listWebhooks', (db) => listDeliveries(db, { ...options, limit }));
  }

  webhookCounts(): Promise<Record<WebhookState, number>> {
    return this.#op('webhookCounts', (db) => countDeliveries(db));
  }

  purgeWebhooks(deliveredBefore: number, deadBefore: number): Promise<number> {
    return this.#op('purgeWebhooks', (db) => purgeDeliveries(db, deliveredBefore, deadBefore));
  }

  // ── second factors ──────────────────────────────────────────────────────

  saveTotpEnrollment(enrollment: { id: string; userId: string; secretSealed: string; now: number }): Promise<'saved' | 'enrolled' | 'no_user'> {
    return this.#op('saveTotpEnrollment', () => this.#backend.transaction((trx) => saveTotpEnrollment(trx, this.dialect, enrollment)));
  }

  findTotpFactor(userId: string): Promise<TotpFactorRecord | undefined> {
    return this.#op('findTotpFactor', async (db) => {
      const row = await db.selectFrom('totp_factors').selectAll().where('user_id', '=', userId).executeTakeFirst();
      return row && toTotpFactor(row);
    });
  }

  confirmTotp(userId: string, step: number, now: number, recoveryCodeMacs: readonly string[], audit: AuditEventInput): Promise<boolean> {
    return this.#op('confirmTotp', () =>
      this.#backend.transaction(async (trx) => {
        const confirmed = await confirmTotp(trx, userId, step, now, recoveryCodeMacs);
        if (confirmed) await trx.insertInto('audit_events').values(auditRow(audit)).execute();
        return confirmed;
      }),
    );
  }

  deleteTotp(userId: string, audit: AuditEventInput): Promise<boolean> {
    return this.#op('deleteTotp', () =>
      this.#backend.transaction(async (trx) => {
        const deleted = await deleteTotp(trx, userId);
        if (deleted) await trx.insertInto('audit_events').values(auditRow(audit)).execute();
        return deleted;
      }),
    );
  }

  listFactors(userId: string): Promise<FactorRecord[]> {
    return this.#op('listFactors', (db) => listFactors(db, userId));
  }

  countRecoveryCodes(userId: string): Promise<number> {
    return this.#op('countRecoveryCodes', async (db) => {
      const { n } = await db
        .selectFrom('recovery_codes')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('user_id', '=', userId)
        .where('used_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(n);
    });
  }

  createMfaToken(token: NewMfaToken): Promise<void> {
    return this.#op('createMfaToken', (db) => insertMfaToken(db, token));
  }

  findMfaToken(mac: string, now: number, maxAttempts: number): Promise<MfaTokenRecord | undefined> {
    return this.#op('findMfaToken', (db) => findLiveMfaToken(db, mac, now, maxAttempts));
  }

  recordMfaFailure(mac: string, now: number, maxAttempts: number): Promise<number | undefined> {
    return this.#op('recordMfaFailure', (db) => recordMfaFailure(db, mac, now, maxAttempts));
  }

  completeMfa(
    mac: string,
    userId: string,
    now: number,
    maxAttempts: number,
    proof: SecondFactorProof,
  ): Promise<'ok' | 'code_refused' | 'token_invalid'> {
    return this.#op('completeMfa', () =>
      withRollback<'ok' | 'token_invalid', 'code_refused'>(
        (fn) => this.#backend.transaction(fn),
        (trx, rollback) => completeMfa(trx, mac, userId, now, maxAttempts, proof, rollback),
      ),
    );
  }

  // ── passkeys ─────────────────────────────────────────────────────────────

  createWebauthnChallenge(record: WebauthnChallengeRecord): Promise<void> {
    return this.#op('createWebauthnChallenge', (db) => insertChallenge(db, record));
  }

  consumeWebauthnChallenge(challenge: string, kind: WebauthnChallengeKind, now: number): Promise<WebauthnChallengeRecord | undefined> {
    return this.#op('consumeWebauthnChallenge', (db) => consumeChallenge(db, challenge, kind, now));
  }

  insertPasskey(passkey: NewPasskey, audit: AuditEventInput): Promise<'saved' | 'duplicate' | 'no_user'> {
    return this.#op('insertPasskey', () =>
      this.#backend.transaction(async (trx) => {
        const saved = await insertPasskey(trx, this.dialect, passkey);
        if (saved === 'saved') await trx.insertInto('audit_events').values(auditRow(audit)).execute();
        return saved;
      }),
    );
  }

  // ── external identities ─────────────────────────────────────────────────

  createFederatedUser(
    user: NewUser & { emailVerified: boolean },
    identity: Omit<NewIdentity, 'userId'>,
    audit: AuditEventInput,
  ): Promise<{ user: UserRecord; identity: IdentityRecord } | 'email_taken' | 'identity_taken'> {
    return this.#op('createFederatedUser', async () => {
      try {
        return await this.#backend.transaction(async (trx) => {
          const row = await trx
            .insertInto('users')
            .values({
              id: user.id,
              email: user.email,
              password_hash: '',
              role: user.role,
              created_at: user.now,
              updated_at: user.now,
              email_verified_at: user.emailVerified ? user.now : null,
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          const linked = await trx
            .insertInto('identities')
            .values(identityRow({ ...identity, userId: user.id }))
            .returningAll()
            .executeTakeFirstOrThrow();
          await trx
            .insertInto('audit_events')
            .values(auditRow({ ...audit, userId: user.id }))
            .execute();
          return { user: toUser(row), identity: toIdentity(linked) };
        });
      } catch (error) {
        if (isEmailUniqueViolation(error)) return 'email_taken';
        if (isIdentityUniqueViolation(error)) return 'identity_taken';
        throw error;
      }
    });
  }

  linkIdentity(identity: NewIdentity, audit: AuditEventInput): Promise<IdentityRecord | 'taken'> {
    return this.#op('linkIdentity', async () => {
      try {
        return await this.#backend.transaction(async (trx) => {
          const row = await trx.insertInto('identities').values(identityRow(identity)).returningAll().executeTakeFirstOrThrow();
          await trx.insertInto('audit_events').values(auditRow(audit)).execute();
          return toIdentity(row);
        });
      } catch (error) {
        if (isIdentityUniqueViolation(error)) return 'taken';
        throw error;
      }
    });
  }

  findIdentity(provider: string, subject: string): Promise<IdentityRecord | undefined> {
    return this.#op('findIdentity', async (db) => {
      const row = await db.selectFrom('identities').selectAll().where('provider', '=', provider).where('subject', '=', subject).executeTakeFirst();
      return row && toIdentity(row);
    });
  }

  listIdentities(userId: string): Promise<IdentityRecord[]> {
    return this.#op('listIdentities', async (db) => {
      const rows = await db.selectFrom('identities').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
      return rows.map(toIdentity);
    });
  }

  unlinkIdentity(userId: string, identityId: string, audit: AuditEventInput): Promise<'unlinked' | 'not_found' | 'last_method'> {
    return this.#op('unlinkIdentity', () =>
      this.#backend.transaction(async (trx) => {
        const result = await unlinkIdentity(trx, this.dialect, userId, identityId);
        if (result.outcome === 'unlinked') await trx.insertInto('audit_events').values(auditRow(audit)).execute();
        return result.outcome;
      }),
    );
  }

  findPasskeyByCredentialId(credentialId: string): Promise<PasskeyRecord | undefined> {
    return this.#op('findPasskeyByCredentialId', (db) => findPasskey(db, credentialId));
  }

  listPasskeys(userId: string): Promise<PasskeyRecord[]> {
    return this.#op('listPasskeys', (db) => listPasskeys(db, userId));
  }

  usePasskey(use: PasskeyUse, now: number): Promise<boolean> {
    return this.#op('usePasskey', (db) => advanceCounter(db, use, now));
  }

  deletePasskey(userId: string, id: string, audit: AuditEventInput): Promise<boolean> {
    return this.#op('deletePasskey', () =>
      this.#backend.transaction(async (trx) => {
        const deleted = await deletePasskey(trx, userId, id);
        if (deleted) await trx.insertInto('audit_events').values(auditRow(audit)).execute();
        return deleted;
      }),
    );
  }

  claimOAuthFlow(flowId: string, expiresAt: number, now: number): Promise<boolean> {
    return this.#op('claimOAuthFlow', async (db) => {
      await db.deleteFrom('oauth_flows_used').where('expires_at', '<', now).execute();
      const inserted = await db
        .insertInto('oauth_flows_used')
        .values({ flow_id: flowId, expires_at: expiresAt })
        .onConflict((oc) => oc.column('flow_id').doNothing())
        .returning('flow_id')
        .executeTakeFirst();
      return inserted !== undefined;
    });
  }
}
