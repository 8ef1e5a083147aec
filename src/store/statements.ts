/**
 * The per-request statements — login, refresh, bearer checks, audit — built with Kysely once
 * per store and compiled to SQL text, then run by the backend as prepared statements
 * (better-sqlite3 `Statement`s; PostgreSQL named statements, parsed and planned once per
 * connection). Nothing is built, compiled or prepared per request. Rare operations (key
 * rotation, purges, admin commands) stay ordinary Kysely queries in `kysely-store.ts`.
 *
 * Placeholders: {@link arg} stands for the `i`-th argument of a statement. Kysely turns every
 * value into a bound parameter; after compiling, the arguments are put where their
 * placeholders ended up, and constants of the query (the `+ 1` of the rotation) stay as they are.
 *
 * Columns are always named (never `select *` / `returning *`): a PostgreSQL prepared statement
 * whose result shape changes under it (another instance migrating during a rolling upgrade)
 * fails with "cached plan must not change result type"; named columns keep old instances working.
 */
import { createHash } from 'node:crypto';
import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import type { DialectName } from './migrations.js';
import type { AuditEventsTable, Database, SessionsTable, UsersTable } from './schema.js';
import type { AuditEventInput } from './types.js';

class Arg {
  constructor(readonly index: number) {}
}

/** The placeholder of argument `index`, typed as the value it stands for. */
function arg<T>(index: number): T {
  return new Arg(index) as unknown as T;
}

/** A statement compiled once: its SQL, a stable name, and how its arguments bind. */
export interface Statement<Row> {
  readonly sql: string;
  /** `lk_` + a hash of the SQL: the PostgreSQL prepared-statement name (same SQL, same name). */
  readonly name: string;
  /** The driver's parameter list for `args`, in placeholder order. */
  values(args: readonly unknown[]): unknown[];
  /** Type only: the row shape. */
  readonly row?: Row;
}

function compile<Row>(query: { compile(): CompiledQuery<unknown> }): Statement<Row> {
  const { sql, parameters } = query.compile();
  const slots = parameters.map((p) => (p instanceof Arg ? p.index : -1));
  const constants = parameters.map((p) => (p instanceof Arg ? undefined : p));
  return {
    sql,
    name: `lk_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`,
    values: (args) => slots.map((slot, i) => (slot < 0 ? constants[i] : args[slot])),
  };
}

/** Every column of table `T`, checked at compile time: a column added to the schema must be listed. */
function columns<T>() {
  return <const C extends readonly (keyof T & string)[]>(list: C & ([Exclude<keyof T, C[number]>] extends [never] ? unknown : never)): C => list;
}

const USER_COLUMNS = columns<UsersTable>()([
  'id',
  'email',
  'password_hash',
  'role',
  'created_at',
  'updated_at',
  'credential_generation',
  'email_verified_at',
  'disabled_at',
]);
const SESSION_COLUMNS = columns<SessionsTable>()([
  'id',
  'user_id',
  'counter',
  'rotated_at',
  'created_at',
  'last_used_at',
  'idle_expires_at',
  'absolute_expires_at',
  'revoked_at',
  'revoked_reason',
  'user_agent',
  'ip',
  'dpop_jkt',
  'amr',
  'acr',
  'auth_time',
]);

export type UserRow = Selectable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
/** A session row with its user's columns as `user_<column>` (the user's id is `user_id`). */
export type SessionUserRow = SessionRow & {
  user_email: string;
  user_password_hash: string;
  user_role: string;
  user_created_at: number;
  user_updated_at: number;
  user_credential_generation: number;
  user_email_verified_at: number | null;
  user_disabled_at: number | null;
};
export type AuditRow = Omit<Selectable<AuditEventsTable>, 'id' | 'actor_id'> & { actor_id?: string | null };

/** The row of an audit event. */
export function auditRow(event: AuditEventInput): AuditRow {
  return {
    type: event.type,
    at: event.at,
    user_id: event.userId ?? null,
    session_id: event.sessionId ?? null,
    ip: event.ip ?? null,
    detail: event.detail == null ? null : JSON.stringify(event.detail),
    actor_id: event.actorId ?? null,
  };
}

/** Argument order of {@link Statements.insertAudit} and the audit half of the logged writes. */
export function auditArgs(row: AuditRow): unknown[] {
  return [row.type, row.at, row.user_id, row.session_id, row.ip, row.detail, row.actor_id ?? null];
}

/** Argument order of {@link Statements.insertSession}. */
export function sessionArgs(row: SessionRow): unknown[] {
  return SESSION_COLUMNS.map((c) => row[c]);
}

/** Arguments of the rotation: id, expected counter, now, new idle expiry. */
/** `proofJkt`: the DPoP key the refresh proved; a session bound to another key (or bound, with `null`) does not rotate. */
export type RotationArgs = [id: string, expectedCounter: number, now: number, idleExpiresAt: number, proofJkt: string | null];

export interface Statements {
  findUserByEmail: Statement<UserRow>;
  findUserById: Statement<UserRow>;
  findSession: Statement<SessionRow>;
  findSessionWithUser: Statement<SessionUserRow>;
  /** Arguments: user id, credential generation. A row when the user still has that generation and is not disabled. */
  credentialGenerationIs: Statement<{ id: string }>;
  /** Arguments: {@link sessionArgs}. Returns the row. */
  insertSession: Statement<SessionRow>;
  /** Arguments: {@link auditArgs}. */
  insertAudit: Statement<never>;
  /** Arguments: id, reason, now. Changes 1 row when it revoked the session. */
  revokeSession: Statement<never>;
  /**
   * The compare-and-swap: arguments {@link RotationArgs}. Changes the row only when it has the
   * expected counter, is not revoked and has not expired at `now`.
   */
  rotateSession: Statement<never>;
  /**
   * PostgreSQL only — one statement each, so one round trip and one commit:
   * - `rotateSessionLogged`: the compare-and-swap, the audit row (arguments
   *   {@link RotationArgs} then {@link auditArgs} without `at`, `user_id`, `session_id`, which
   *   come from the row) and the session with its user, all in one data-modifying CTE. No row:
   *   nothing was written.
   * - `insertSessionLogged`: the session insert, guarded by the user's credential generation
   *   (the user row share-locked), and its audit row (arguments {@link sessionArgs}, then type,
   *   ip, detail, then user id and generation). No row: nothing was written.
   * SQLite has no data-modifying CTEs; it runs the same writes in one synchronous transaction.
   */
  rotateSessionLogged?: Statement<SessionUserRow>;
  insertSessionLogged?: Statement<SessionRow>;
}

/** PostgreSQL types of the session columns, for the casts of `insertSessionLogged`. */
const SESSION_TYPES = {
  id: 'text',
  user_id: 'text',
  counter: 'integer',
  rotated_at: 'bigint',
  created_at: 'bigint',
  last_used_at: 'bigint',
  idle_expires_at: 'bigint',
  absolute_expires_at: 'bigint',
  revoked_at: 'bigint',
  revoked_reason: 'text',
  user_agent: 'text',
  ip: 'text',
  dpop_jkt: 'text',
  amr: 'text',
  acr: 'text',
  auth_time: 'bigint',
} as const satisfies Record<(typeof SESSION_COLUMNS)[number], string>;

const USER_AS = [
  'users.email as user_email',
  'users.password_hash as user_password_hash',
  'users.role as user_role',
  'users.created_at as user_created_at',
  'users.updated_at as user_updated_at',
  'users.credential_generation as user_credential_generation',
  'users.email_verified_at as user_email_verified_at',
  'users.disabled_at as user_disabled_at',
] as const;

/** Builds and compiles the statements for `db`'s dialect. */
export function compileStatements(db: Kysely<Database>, dialect: DialectName): Statements {
  const sessionsCols = SESSION_COLUMNS.map((c) => `sessions.${c}` as const);

  const rotate = () =>
    db
      .updateTable('sessions')
      .set((eb) => ({
        counter: eb('counter', '+', 1),
        rotated_at: arg<number>(2),
        last_used_at: arg<number>(2),
        idle_expires_at: arg<number>(3),
      }))
      .where('id', '=', arg<string>(0))
      .where('counter', '=', arg<number>(1))
      .where('revoked_at', 'is', null)
      .where('idle_expires_at', '>', arg<number>(2))
      .where('absolute_expires_at', '>', arg<number>(2))
      .where((eb) => eb.or([eb('dpop_jkt', 'is', null), eb('dpop_jkt', '=', arg<string | null>(4))]));

  const sessionValues = (offset: number) => Object.fromEntries(SESSION_COLUMNS.map((c, i) => [c, arg(offset + i)])) as unknown as SessionRow;

  const statements: Statements = {
    findUserByEmail: compile(db.selectFrom('users').select(USER_COLUMNS).where('email', '=', arg<string>(0))),
    findUserById: compile(db.selectFrom('users').select(USER_COLUMNS).where('id', '=', arg<string>(0))),
    findSession: compile(db.selectFrom('sessions').select(SESSION_COLUMNS).where('id', '=', arg<string>(0))),
    findSessionWithUser: compile(
      db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .select([...sessionsCols, ...USER_AS])
        .where('sessions.id', '=', arg<string>(0)),
    ),
    credentialGenerationIs: compile(
      db
        .selectFrom('users')
        .select('id')
        .where('id', '=', arg<string>(0))
        .where('credential_generation', '=', arg<number>(1))
        .where('disabled_at', 'is', null),
    ),
    insertSession: compile(db.insertInto('sessions').values(sessionValues(0)).returning(SESSION_COLUMNS)),
    insertAudit: compile(
      db.insertInto('audit_events').values({
        type: arg<string>(0),
        at: arg<number>(1),
        user_id: arg<string | null>(2),
        session_id: arg<string | null>(3),
        ip: arg<string | null>(4),
        detail: arg<string | null>(5),
        actor_id: arg<string | null>(6),
      }),
    ),
    revokeSession: compile(
      db
        .updateTable('sessions')
        .set({ revoked_at: arg<number>(2), revoked_reason: arg<string>(1) })
        .where('id', '=', arg<string>(0))
        .where('revoked_at', 'is', null),
    ),
    rotateSession: compile(rotate()),
  };
  if (dialect !== 'postgres') return statements;

  // In an INSERT … SELECT, PostgreSQL types bare parameters of the select list as text:
  // cast them to their columns' types.
  statements.rotateSessionLogged = compile(
    db
      .with('rotated', () => rotate().returning(SESSION_COLUMNS))
      .with('logged', (qb) =>
        qb
          .insertInto('audit_events')
          .columns(['type', 'at', 'user_id', 'session_id', 'ip', 'detail'])
          .expression((eb) =>
            eb
              .selectFrom('rotated')
              .select([
                eb.cast<string>(eb.val(arg<string>(5)), 'text').as('type'),
                eb.cast<number>(eb.val(arg<number>(2)), 'bigint').as('at'),
                'rotated.user_id',
                'rotated.id',
                eb.cast<string | null>(eb.val(arg<string | null>(6)), 'text').as('ip'),
                eb.cast<string | null>(eb.val(arg<string | null>(7)), 'text').as('detail'),
              ]),
          ),
      )
      .selectFrom('rotated')
      .innerJoin('users', 'users.id', 'rotated.user_id')
      .select([...SESSION_COLUMNS.map((c) => `rotated.${c}` as const), ...USER_AS]),
  );
  const n = SESSION_COLUMNS.length;
  statements.insertSessionLogged = compile(
    db
      .with('guard', (qb) =>
        qb
          .selectFrom('users')
          .select('id')
          .where('id', '=', arg<string>(n + 3))
          .where('credential_generation', '=', arg<number>(n + 4))
          .where('disabled_at', 'is', null)
          .forShare(),
      )
      .with('inserted', (qb) =>
        qb
          .insertInto('sessions')
          .columns(SESSION_COLUMNS)
          .expression((eb) => eb.selectFrom('guard').select(SESSION_COLUMNS.map((c, i) => eb.cast(eb.val(arg(i)), SESSION_TYPES[c]).as(c))))
          .returning(SESSION_COLUMNS),
      )
      .with('logged', (qb) =>
        qb
          .insertInto('audit_events')
          .columns(['type', 'at', 'user_id', 'session_id', 'ip', 'detail'])
          .expression((eb) =>
            eb
              .selectFrom('inserted')
              .select([
                eb.cast<string>(eb.val(arg<string>(n)), 'text').as('type'),
                'inserted.created_at',
                'inserted.user_id',
                'inserted.id',
                eb.cast<string | null>(eb.val(arg<string | null>(n + 1)), 'text').as('ip'),
                eb.cast<string | null>(eb.val(arg<string | null>(n + 2)), 'text').as('detail'),
              ]),
          ),
      )
      .selectFrom('inserted')
      .select(SESSION_COLUMNS.map((c) => `inserted.${c}` as const)),
  );
  return statements;
}
