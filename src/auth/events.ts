/**
 * The event types: what the audit log records, what the admin page filters by (and, later,
 * what webhooks deliver). One list, documented in docs/events.md (a test keeps the two, and the
 * types the code writes, in agreement). New types follow the style of the old: `snake_case`,
 * the thing then what happened to it; admin actions start with `admin_`.
 */
export const EVENT_TYPES = [
  'register',
  'register_attempt_existing',
  'login_success',
  'login_failure',
  'refresh',
  'refresh_reuse_detected',
  'dpop_mismatch',
  'logout',
  'logout_all',
  'session_revoked',
  'password_change',
  'password_reset_requested',
  'password_reset',
  'email_verification_sent',
  'email_verified',
  'email_change_requested',
  'email_changed',
  'mfa_required',
  'mfa_verified',
  'mfa_failed',
  'mfa_enrolled',
  'mfa_removed',
  'recovery_code_used',
  'rate_limited',
  'key_rotated',
  'sessions_revoked_by_admin',
  'admin_role_changed',
  'admin_user_disabled',
  'admin_user_enabled',
  'admin_email_verified',
  'admin_email_unverified',
  'admin_user_deleted',
  'admin_sessions_revoked',
  'admin_password_set',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
