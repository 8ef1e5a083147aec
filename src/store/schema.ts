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
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  signing_keys: SigningKeysTable;
  audit_events: AuditEventsTable;
}
