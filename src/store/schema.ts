/**
 * Row shapes of the tables as Kysely sees them (snake_case, times as integer ms).
 * Private to the store: the rest of Latchkey sees the records of `types.ts`.
 */
import type { Generated } from 'kysely';

export interface UsersTable {
  id: string;
  email: string;
  password_hash: string;
  role: string;
  created_at: number;
  updated_at: number;
  credential_generation: Generated<number>;
  email_verified_at: number | null;
  disabled_at: number | null;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  counter: number;
  rotated_at: number | null;
  created_at: number;
  last_used_at: number;
  idle_expires_at: number;
  absolute_expires_at: number;
  revoked_at: number | null;
  revoked_reason: string | null;
  user_agent: string | null;
  ip: string | null;
  dpop_jkt: string | null;
  /** JSON array text. */
  amr: string;
  acr: string;
  /** `null` only for rows written before migration 0006 filled it (read as `created_at`). */
  auth_time: number | null;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  private_key_sealed: string;
  state: string;
  created_at: number;
  retired_at: number | null;
  expires_at: number | null;
}

export interface AuditEventsTable {
  id: Generated<number>;
  type: string;
  at: number;
  user_id: string | null;
  session_id: string | null;
  ip: string | null;
  /** JSON text. */
  detail: string | null;
  actor_id: string | null;
}

export interface LinkTokensTable {
  token_mac: string;
  user_id: string;
  kind: string;
  new_email: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface MailQueueTable {
  id: string;
  kind: string;
  state: string;
  /** The sealed message; `null` once sent (or given up). */
  sealed: string | null;
  attempts: Generated<number>;
  created_at: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_until: number | null;
  sent_at: number | null;
  last_error: string | null;
  user_id: string | null;
}

export interface TotpFactorsTable {
  user_id: string;
  id: string;
  secret_sealed: string;
  created_at: number;
  confirmed_at: number | null;
  last_step: number | null;
  last_used_at: number | null;
}

export interface RecoveryCodesTable {
  code_mac: string;
  user_id: string;
  created_at: number;
  used_at: number | null;
}

export interface MfaTokensTable {
  token_mac: string;
  user_id: string;
  /** JSON array text: the methods of the first step. */
  amr: string;
  credential_generation: number;
  dpop_jkt: string | null;
  attempts: Generated<number>;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface PasskeysTable {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number;
  user_handle: string;
  /** JSON array text. */
  transports: string | null;
  device_type: string | null;
  backed_up: number;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export interface WebauthnChallengesTable {
  challenge: string;
  kind: string;
  user_id: string | null;
  mfa_token_mac: string | null;
  /** Registrations: the user handle the options named (0010). */
  user_handle: string | null;
  created_at: number;
  expires_at: number;
  /** Set once, by the conditional UPDATE that consumes the challenge (0010). */
  used_at: number | null;
}

export interface WebhookSettingsTable {
  id: number;
  /** 1: every new audit event gets a delivery row (the trigger of migration 0008). */
  enabled: number;
  updated_at: number | null;
}

/** The webhook outbox: a copy of the audit event and its delivery state. */
export interface WebhookDeliveriesTable {
  /** The audit event's id: the `webhook-id`. */
  event_id: number;
  type: string;
  at: number;
  user_id: string | null;
  session_id: string | null;
  actor_id: string | null;
  /** JSON object text, as in `audit_events`. */
  detail: string | null;
  state: Generated<string>;
  attempts: Generated<number>;
  /** When the current series of attempts began (the event, or a manual retry of a dead letter). */
  queued_at: number;
  next_attempt_at: number;
  lease_owner: Generated<string | null>;
  lease_until: Generated<number | null>;
  delivered_at: Generated<number | null>;
  last_error: Generated<string | null>;
}

export interface IdentitiesTable {
  id: string;
  user_id: string;
  provider: string;
  subject: string;
  email: string | null;
  created_at: number;
}

export interface OauthFlowsUsedTable {
  flow_id: string;
  expires_at: number;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
  link_tokens: LinkTokensTable;
  mail_queue: MailQueueTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  mfa_tokens: MfaTokensTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  webhook_settings: WebhookSettingsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  identities: IdentitiesTable;
  oauth_flows_used: OauthFlowsUsedTable;
}
