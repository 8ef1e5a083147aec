/**
 * The schema, as Kysely migrations defined in code (so they work from `dist/` with no
 * files to find). Append new migrations; never edit one that has shipped.
 */
import { sql, type Kysely, type SqlBool, type Migration, type MigrationProvider } from 'kysely';

export type DialectName = 'sqlite' | 'postgres';

function initial(dialect: DialectName): Migration {
  return {
    async up(db: Kysely<unknown>) {
      // Times are integer milliseconds since the epoch: `bigint` in PostgreSQL; in SQLite
      // the declared type gives the column INTEGER affinity (64-bit).
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('users_email_key', ['email'])
        .execute();

      await db.schema
        .createTable('sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('counter', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('rotated_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint', (c) => c.notNull())
        .addColumn('idle_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('absolute_expires_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'bigint')
        .addColumn('revoked_reason', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('ip', 'text')
        .execute();
      await db.schema.createIndex('sessions_user_id_idx').on('sessions').column('user_id').execute();

      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('alg', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('private_key_sealed', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('retired_at', 'bigint')
        .addColumn('expires_at', 'bigint')
        .addCheckConstraint('signing_keys_state_check', sql`state in ('next', 'current', 'retired')`)
        .execute();
      // At most one current key, enforced by the database: concurrent first starts and
      // concurrent rotations cannot leave two signers behind.
      await db.schema
        .createIndex('signing_keys_one_current')
        .on('signing_keys')
        .column('state')
        .unique()
        .where(sql<SqlBool>`state = 'current'`)
        .execute();
      // …and at most one next key (published ahead of signing).
      await db.schema.createIndex('signing_keys_one_next').on('signing_keys').column('state').unique().where(sql<SqlBool>`state = 'next'`).execute();

      let audit = db.schema.createTable('audit_events');
      audit =
        dialect === 'postgres'
          ? audit.addColumn('id', 'bigserial', (c) => c.primaryKey())
          : audit.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await audit
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('session_id', 'text')
        .addColumn('ip', 'text')
        .addColumn('detail', 'text')
        .execute();
    },
  };
}

/** An index on `audit_events.at`, for the retention purge (and time-bounded audit queries). */
function auditEventsAt(): Migration {
  return {
    async up(db) {
      await db.schema.createIndex('audit_events_at_idx').on('audit_events').column('at').execute();
    },
  };
}

/**
 * `users.credential_generation`: +1 whenever the password changes or every session of the user
 * is ended. A session is only inserted while it still equals the value read with the
 * credentials, so a login racing either can never leave a session behind.
 */
function credentialGeneration(): Migration {
  return {
    async up(db) {
      await db.schema
        .alterTable('users')
        .addColumn('credential_generation', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  };
}

/**
 * `sessions.dpop_jkt`: the RFC 7638 thumbprint of the key a DPoP-bound session is bound to
 * (`null`: a bearer session). Set once at sign-in, never changed (docs/dpop.md).
 */
function sessionDpopJkt(): Migration {
  return {
    async up(db) {
      await db.schema.alterTable('sessions').addColumn('dpop_jkt', 'text').execute();
    },
  };
}

/**
 * E-mail: `users.email_verified_at` (when the address was last proven, `null`: never), the
 * link tokens of reset, verification and address-change mails (stored only as a keyed MAC of
 * the token, single use through `used_at`), and the durable mail queue (the message sealed
 * under the master secret, erased once sent). docs/email.md.
 */
function mail(): Migration {
  return {
    async up(db) {
      await db.schema.alterTable('users').addColumn('email_verified_at', 'bigint').execute();

      await db.schema
        .createTable('link_tokens')
        .addColumn('token_mac', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('new_email', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .addCheckConstraint('link_tokens_kind_check', sql`kind in ('reset', 'verify', 'email_change')`)
        .execute();
      await db.schema.createIndex('link_tokens_user_idx').on('link_tokens').columns(['user_id', 'kind']).execute();

      await db.schema
        .createTable('mail_queue')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('sealed', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('sent_at', 'bigint')
        .addColumn('last_error', 'text')
        .addCheckConstraint('mail_queue_state_check', sql`state in ('queued', 'sending', 'sent', 'dead')`)
        .execute();
      await db.schema.createIndex('mail_queue_due_idx').on('mail_queue').columns(['state', 'next_attempt_at']).execute();
    },
  };
}

/**
 * Second factors (docs/mfa.md):
 * - `sessions.amr` (JSON array of RFC 8176 methods), `sessions.acr` (`aal1`/`aal2`) and
 *   `sessions.auth_time` (when the last factor completed): how the session was authenticated,
 *   copied into every access token it issues. Sessions of before are password sign-ins.
 * - `totp_factors`: one per account, the secret sealed under the master secret; `confirmed_at`
 *   `null` while the enrolment is pending; `last_step`, the last RFC 6238 time step accepted
 *   (advanced by one conditional UPDATE, so a code is never accepted twice, across instances).
 * - `recovery_codes`: keyed MACs of the codes, single use through `used_at`.
 * - `mfa_tokens`: the second step of a login, stored as a keyed MAC: attempts, expiry, the DPoP
 *   key the first step proved.
 * - `passkeys`: WebAuthn credentials (public key, sign counter, the random user handle).
 * - `webauthn_challenges`: single-use challenges of registrations and assertions.
 */
function mfa(): Migration {
  return {
    async up(db) {
      await db.schema
        .alterTable('sessions')
        .addColumn('amr', 'text', (c) => c.notNull().defaultTo('["pwd"]'))
        .execute();
      await db.schema
        .alterTable('sessions')
        .addColumn('acr', 'text', (c) => c.notNull().defaultTo('aal1'))
        .execute();
      await db.schema.alterTable('sessions').addColumn('auth_time', 'bigint').execute();
      await db
        .updateTable('sessions' as never)
        .set({ auth_time: sql`created_at` } as never)
        .execute();

      await db.schema
        .createTable('totp_factors')
        .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('secret_sealed', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('confirmed_at', 'bigint')
        .addColumn('last_step', 'bigint')
        .addColumn('last_used_at', 'bigint')
        .execute();

      await db.schema
        .createTable('recovery_codes')
        .addColumn('code_mac', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
      await db.schema.createIndex('recovery_codes_user_idx').on('recovery_codes').column('user_id').execute();

      await db.schema
        .createTable('mfa_tokens')
        .addColumn('token_mac', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('amr', 'text', (c) => c.notNull())
        .addColumn('credential_generation', 'integer', (c) => c.notNull())
        .addColumn('dpop_jkt', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
      await db.schema.createIndex('mfa_tokens_user_idx').on('mfa_tokens').column('user_id').execute();

      await db.schema
        .createTable('passkeys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('credential_id', 'text', (c) => c.notNull().unique())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('counter', 'bigint', (c) => c.notNull())
        .addColumn('user_handle', 'text', (c) => c.notNull())
        .addColumn('transports', 'text')
        .addColumn('device_type', 'text')
        .addColumn('backed_up', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();
      await db.schema.createIndex('passkeys_user_idx').on('passkeys').column('user_id').execute();

      await db.schema
        .createTable('webauthn_challenges')
        .addColumn('challenge', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
        .addColumn('mfa_token_mac', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addCheckConstraint('webauthn_challenges_kind_check', sql`kind in ('register', 'login', 'second_factor')`)
        .execute();
    },
  };
}

/**
 * Administration (docs/admin.md):
 * - `users.disabled_at`: when an admin disabled the account (`null`: enabled). A disabled
 *   account signs in nowhere: every session was revoked with it, and no new one is created.
 * - `audit_events.actor_id`: who did it, when that is not the user the event is about (an
 *   admin's id, or `cli`); indexes on `user_id` and `actor_id` for the audit query.
 * - `mail_queue.user_id`: the account a queued mail is for, so deleting the account deletes
 *   its mails (rows queued before this migration have none).
 * - `users (created_at, id)`: the order of the user list and its keyset cursor.
 */
function admin(): Migration {
  return {
    async up(db) {
      await db.schema.alterTable('users').addColumn('disabled_at', 'bigint').execute();
      await db.schema.alterTable('audit_events').addColumn('actor_id', 'text').execute();
      await db.schema.alterTable('mail_queue').addColumn('user_id', 'text').execute();
      await db.schema.createIndex('users_created_idx').on('users').columns(['created_at', 'id']).execute();
      await db.schema.createIndex('audit_events_user_idx').on('audit_events').columns(['user_id', 'id']).execute();
      await db.schema.createIndex('audit_events_actor_idx').on('audit_events').columns(['actor_id', 'id']).execute();
      await db.schema.createIndex('mail_queue_user_idx').on('mail_queue').column('user_id').execute();
    },
  };
}

/**
 * External identities (docs/oidc.md): one row per account at an OpenID Connect provider or
 * GitHub linked to a local account — `provider` (the configured id: `google`, `github`),
 * `subject` (the provider's stable `sub` or user id), unique per provider, so one external
 * account signs in to at most one local account. `email` is what the provider said at linking
 * (shown to the owner, never used to sign in). An account created by a provider has no password
 * until one is set through a reset link: its `users.password_hash` is the empty string, which no
 * password ever matches (`auth/passwords.ts`).
 *
 * `oauth_flows_used`: the sign-in flows whose callback ran (the flow cookie's id), until the
 * cookie would have expired: a replayed callback is refused before the provider is asked, on
 * every instance.
 */
function identities(): Migration {
  return {
    async up(db) {
      await db.schema
        .createTable('identities')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('email', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('identities_provider_subject_key', ['provider', 'subject'])
        .execute();
      await db.schema.createIndex('identities_user_idx').on('identities').column('user_id').execute();
      await db.schema
        .createTable('oauth_flows_used')
        .addColumn('flow_id', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('oauth_flows_used_expires_idx').on('oauth_flows_used').column('expires_at').execute();
    },
  };
}

/**
 * Passkeys (docs/mfa.md#passkeys): a registration's challenge remembers the random user handle
 * its options named (the attestation does not carry it back), and a challenge is consumed by
 * setting `used_at` in one conditional UPDATE, so a replayed response finds it spent. The
 * expiry index lets each new challenge prune the expired ones.
 */
function passkeys(): Migration {
  return {
    async up(db) {
      await db.schema.alterTable('webauthn_challenges').addColumn('user_handle', 'text').execute();
      await db.schema.alterTable('webauthn_challenges').addColumn('used_at', 'bigint').execute();
      await db.schema.createIndex('webauthn_challenges_expires_idx').on('webauthn_challenges').column('expires_at').execute();
    },
  };
}

/**
 * Webhooks (docs/admin.md#webhooks): `webhook_deliveries`, the durable outbox — one row per audit
 * event while the outbox is on, with a copy of what the webhook carries (type, time, user,
 * session, actor, detail; never the IP), so that a delivery is the same whatever later happens to the
 * audit row (retention, erasure) — and `webhook_settings`, one row saying whether it is on.
 *
 * The row is written by a trigger on `audit_events`, so it is part of whatever statement or
 * transaction writes the audit row — the refresh's single CTE statement on PostgreSQL, the
 * synchronous transaction on SQLite, every other audited write, from any process — and no code
 * path can forget it. With the outbox off the trigger only reads the one settings row.
 */
function webhooks(dialect: DialectName): Migration {
  return {
    async up(db) {
      await db.schema
        .createTable('webhook_settings')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('updated_at', 'bigint')
        .addCheckConstraint('webhook_settings_one_row', sql`id = 1`)
        .execute();
      await db
        .insertInto('webhook_settings' as never)
        .values({ id: 1, enabled: 0 } as never)
        .execute();

      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('event_id', 'bigint', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('session_id', 'text')
        .addColumn('actor_id', 'text')
        .addColumn('detail', 'text')
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending'))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('queued_at', 'bigint', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('delivered_at', 'bigint')
        .addColumn('last_error', 'text')
        .addCheckConstraint('webhook_deliveries_state_check', sql`state in ('pending', 'delivering', 'delivered', 'dead')`)
        .execute();
      await db.schema.createIndex('webhook_deliveries_due_idx').on('webhook_deliveries').columns(['state', 'next_attempt_at']).execute();

      const copy = sql.raw(
        'insert into webhook_deliveries (event_id, type, at, user_id, session_id, actor_id, detail, queued_at, next_attempt_at) ' +
          'values (new.id, new.type, new.at, new.user_id, new.session_id, new.actor_id, new.detail, new.at, new.at)',
      );
      if (dialect === 'sqlite') {
        await sql`create trigger audit_events_webhook after insert on audit_events
          when (select enabled from webhook_settings where id = 1) = 1
          begin ${copy}; end`.execute(db);
        return;
      }
      // A trigger's WHEN cannot read a table in PostgreSQL: the function checks the setting.
      // Names resolve through the session's search_path, like every query of the store.
      await sql`create function audit_events_webhook() returns trigger language plpgsql as $$
        begin
          if exists (select 1 from webhook_settings where id = 1 and enabled = 1) then
            ${copy};
          end if;
          return null;
        end $$`.execute(db);
      await sql`create trigger audit_events_webhook after insert on audit_events
        for each row execute function audit_events_webhook()`.execute(db);
    },
  };
}

/**
 * The migrations of `dialect`, by name (applied in name order). Numbers are handed out to
 * features ahead of time, so a later number may ship before an earlier one: both stores run
 * the migrator with `allowUnorderedMigrations`, and a database that has 0009 still gets 0007.
 */
export function migrationsFor(dialect: DialectName): Record<string, Migration> {
  return {
    '0001_initial': initial(dialect),
    '0002_audit_events_at': auditEventsAt(),
    '0003_credential_generation': credentialGeneration(),
    '0004_session_dpop_jkt': sessionDpopJkt(),
    '0005_mail': mail(),
    '0006_mfa': mfa(),
    '0007_admin': admin(),
    '0008_webhooks': webhooks(dialect),
    '0009_identities': identities(),
    '0010_passkeys': passkeys(),
  };
}

export function migrationProvider(dialect: DialectName): MigrationProvider {
  return { getMigrations: async () => migrationsFor(dialect) };
}
