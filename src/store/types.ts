/**
 * The storage interface of Latchkey. SQLite and PostgreSQL implement it through one
 * Kysely query layer; `test/store/conformance.ts` is the suite every implementation
 * must pass, races included.
 *
 * All times are milliseconds since the Unix epoch (`number`), on both dialects.
 * Race-sensitive operations (rotate, revoke, password change, key rotation) are single
 * statements or single transactions: callers never compose them from reads and writes.
 */

export type Role = string;

export interface UserRecord {
  id: string;
  /** Trimmed and lower-cased; unique. */
  email: string;
  passwordHash: string;
  role: Role;
  createdAt: number;
  updatedAt: number;
  /**
   * Starts at 0; +1 whenever the password changes or every session of the user is ended
   * (`changePassword`, `revokeUserSessions`). A session is created only while it is unchanged.
   */
  credentialGeneration: number;
  /** When the address was last proven by a link sent to it; `null`: never. */
  emailVerifiedAt: number | null;
  /** When an admin disabled the account; `null`: enabled (docs/admin.md). */
  disabledAt: number | null;
}

export type RevokeReason = 'logout' | 'logout_all' | 'revoked' | 'reuse' | 'password_change' | 'password_reset' | 'admin' | 'account_disabled';

export interface SessionRecord {
  id: string;
  userId: string;
  /** Generation of the current refresh token. Starts at 0, +1 on every rotation. */
  counter: number;
  /** When `counter` last advanced; `null` before the first rotation. */
  rotatedAt: number | null;
  createdAt: number;
  lastUsedAt: number;
  /** lastUsedAt + refresh-token TTL (idle timeout). */
  idleExpiresAt: number;
  /** createdAt + session max age; never moves. */
  absoluteExpiresAt: number;
  revokedAt: number | null;
  revokedReason: RevokeReason | null;
  userAgent: string | null;
  ip: string | null;
  /** Thumbprint (RFC 7638) of the DPoP key the session is bound to; `null` for a bearer session. */
  dpopJkt: string | null;
  /** RFC 8176 methods the session was authenticated with (`["pwd"]`, `["pwd","otp"]`, `["hwk"]`, …). */
  amr: string[];
  /** Authentication assurance level: `aal1` or `aal2`. */
  acr: string;
  /** When the last factor of the session completed (ms). */
  authTime: number;
}

/**
 * How a session was authenticated (docs/mfa.md): what its access tokens say in `amr`, `acr`
 * and `auth_time`. Set when the session is created; kept by every refresh.
 */
export interface SessionAuthentication {
  /** RFC 8176 method values, e.g. `["pwd"]`, `["pwd","otp"]`, `["hwk"]`, `["fed"]`. */
  amr: readonly string[];
  /** `aal1` or `aal2`. */
  acr: string;
  /** When the last factor completed (ms). */
  authTime: number;
}

export interface NewUser {
  id: string;
  email: string;
  passwordHash: string;
  role: Role;
  now: number;
}

export interface NewSession {
  id: string;
  userId: string;
  /** The user's `credentialGeneration` read together with the credentials the session is granted on. */
  credentialGeneration: number;
  now: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
  userAgent: string | null;
  ip: string | null;
  /** Bind the session to this DPoP key thumbprint. Default `null` (a bearer session). */
  dpopJkt?: string | null;
  /** How it was authenticated. Default: a password sign-in at `now` (`["pwd"]`, `aal1`). */
  authentication?: SessionAuthentication;
}

/**
 * `next` is published in the JWKS (and verifies) before it ever signs, so resource servers
 * that cache the JWKS already hold the key that a rotation promotes; `current` signs;
 * `retired` verifies until `expiresAt`.
 */
export type SigningKeyState = 'next' | 'current' | 'retired';

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /** Public JWK as JSON text (never any private member). */
  publicJwk: string;
  /** Sealed (AES-256-GCM) PKCS#8 private key; opaque to the store. */
  privateKeySealed: string;
  state: SigningKeyState;
  createdAt: number;
  /** When the key stopped signing; `null` while current. */
  retiredAt: number | null;
  /** After this instant no token it signed can still be valid; the key may be dropped. */
  expiresAt: number | null;
}

export interface AuditEventInput {
  type: string;
  at: number;
  /** The account the event is about. */
  userId?: string | null;
  /** Who did it when that is someone else: an admin's user id, or `cli` (docs/events.md). */
  actorId?: string | null;
  sessionId?: string | null;
  ip?: string | null;
  /** Small, non-secret JSON-serialisable detail. */
  detail?: Record<string, unknown> | null;
}

export interface AuditEventRecord {
  id: number;
  type: string;
  at: number;
  userId: string | null;
  actorId: string | null;
  sessionId: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

/**
 * The audit row a write records about itself, in the same transaction: its time, user and
 * session are the write's own.
 */
export interface WriteAudit {
  type: string;
  ip: string | null;
  /** Small, non-secret JSON-serialisable detail. */
  detail?: Record<string, unknown> | null;
}

export interface Rotation {
  id: string;
  /** The counter the presented refresh token carries. */
  expectedCounter: number;
  now: number;
  /** The session's new idle expiry (now + refresh-token TTL). */
  idleExpiresAt: number;
  /**
   * The RFC 7638 thumbprint of the DPoP key the refresh request proved, if any. A session bound
   * to a key (`dpopJkt`) rotates only when this is that key; an unbound one rotates either way.
   */
  proofJkt?: string | null;
  /** Written with the rotation, only when it succeeds (at = now). */
  audit: WriteAudit;
}

/** A session with its user, read together. */
export interface SessionWithUser {
  session: SessionRecord;
  user: UserRecord;
}

/** Outcome of the compare-and-swap rotation. */
export type RotateResult =
  | { ok: true; session: SessionRecord; user: UserRecord }
  /**
   * Nothing was written: the row did not match (counter moved, revoked, expired or gone).
   * `found` is a fresh read of the session and its user, if it exists.
   */
  | { ok: false; found: SessionWithUser | undefined };

/** What a link sent by mail lets its holder do (docs/email.md). */
export type LinkKind = 'reset' | 'verify' | 'email_change';

export interface NewLink {
  /** Keyed MAC of the token (the token itself is never stored). */
  mac: string;
  userId: string;
  kind: LinkKind;
  /** `email_change` only: the address the link switches to. */
  newEmail?: string | null;
  now: number;
  expiresAt: number;
}

/** At most `max` links of one kind per user in `windowMs` (the per-address mail cap). */
export interface LinkCap {
  max: number;
  windowMs: number;
}

/** A mail for the durable queue: the message is sealed by the caller, opaque to the store. */
export interface NewMail {
  id: string;
  /** Template name, for logs and metrics (never the address or the content). */
  kind: string;
  sealed: string;
  now: number;
}

/** A mail this worker holds the lease of. */
export interface ClaimedMail {
  id: string;
  kind: string;
  sealed: string;
  /** Attempts so far, this one included. */
  attempts: number;
  createdAt: number;
}

/** Where a webhook delivery stands (docs/admin.md#webhooks). */
export type WebhookState = 'pending' | 'delivering' | 'delivered' | 'dead';

/** An audit event as the webhook outbox copied it (never its IP). */
export interface WebhookEvent {
  /** The audit event's id: the `webhook-id`. */
  eventId: number;
  type: string;
  at: number;
  userId: string | null;
  sessionId: string | null;
  /** Who did it, when not the user it is about: an admin's id, or `cli`. */
  actorId: string | null;
  detail: Record<string, unknown> | null;
}

/** A delivery this worker holds the lease of. */
export interface ClaimedWebhook extends WebhookEvent {
  /** Attempts of the current series so far, this one included. */
  attempts: number;
  /** When the current series of attempts began (the event, or a manual retry). */
  queuedAt: number;
}

export interface WebhookDeliveryRecord extends WebhookEvent {
  state: WebhookState;
  attempts: number;
  queuedAt: number;
  nextAttemptAt: number;
  deliveredAt: number | null;
  /** A short, secret-free reason of the last failed attempt (`HTTP 500`, `timeout`, `ECONNREFUSED`). */
  lastError: string | null;
}

/** What a consumed verification or address-change link did. */
export interface VerifiedEmail {
  kind: 'verify' | 'email_change';
  /** The user as it is afterwards. */
  user: UserRecord;
  /** `email_change`: the address before the switch. */
  previousEmail: string | null;
}

/** An account's TOTP factor (docs/mfa.md#totp); `confirmedAt` `null` while the enrolment is pending. */
export interface TotpFactorRecord {
  id: string;
  userId: string;
  /** The secret sealed under the master secret; opaque to the store. */
  secretSealed: string;
  createdAt: number;
  confirmedAt: number | null;
  /** The last RFC 6238 time step accepted for the account; `null`: none yet. */
  lastStep: number | null;
  lastUsedAt: number | null;
}

/** A factor as lists show it: never a secret. */
export interface FactorRecord {
  id: string;
  type: 'totp' | 'webauthn';
  createdAt: number;
  lastUsedAt: number | null;
}

/** Keyset position in the user list: creation time, then id (docs/admin.md#paging). */
export interface UserCursor {
  createdAt: number;
  id: string;
}

/** What an admin changes of an account; absent fields stay as they are. */
export interface UserChange {
  role?: Role;
  disabled?: boolean;
  emailVerified?: boolean;
}

/** Who makes an admin change, for its audit rows: an admin's user id or `cli`, and the request's address. */
export interface AdminActor {
  actorId: string;
  ip: string | null;
}

/**
 * Outcome of an admin change: `no_user` when the account does not exist, `last_admin` (nothing
 * written) when it would leave no enabled account with role `admin`.
 */
export type AdminOutcome<T> = ({ ok: true } & T) | { ok: false; reason: 'no_user' | 'last_admin' };

/** Filters of the audit query; `before` is the keyset cursor (events with a smaller id, newest first). */
export interface AuditQuery {
  /** Events about this user or done by them (`userId` or `actorId`). */
  userId?: string;
  actorId?: string;
  type?: string;
  before?: number;
  limit: number;
}

/** The second step of a login, stored under the keyed MAC of its token. */
export interface NewMfaToken {
  mac: string;
  userId: string;
  /** The methods of the first step (`["pwd"]`). */
  amr: readonly string[];
  /** The user's credential generation when the password was checked: a change since voids the step. */
  credentialGeneration: number;
  /** The DPoP key the first step proved, if any: the second must prove it too. */
  dpopJkt: string | null;
  now: number;
  expiresAt: number;
}

export interface MfaTokenRecord {
  mac: string;
  userId: string;
  amr: string[];
  credentialGeneration: number;
  dpopJkt: string | null;
  attempts: number;
  createdAt: number;
  expiresAt: number;
}

/**
 * What completes a second step: a TOTP time step to accept, a recovery code (its MAC) to use up,
 * or a verified passkey assertion whose sign counter to advance ({@link PasskeyUse}).
 */
export type SecondFactorProof = { kind: 'totp'; step: number } | { kind: 'recovery'; codeMac: string } | ({ kind: 'passkey' } & PasskeyUse);

/** A WebAuthn credential of an account (docs/mfa.md#passkeys). */
export interface PasskeyRecord {
  id: string;
  userId: string;
  /** The credential id, base64url (unique). */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The last sign counter seen (0: the authenticator keeps none). */
  counter: number;
  /** The random user handle of the account's passkeys, base64url; never the e-mail. */
  userHandle: string;
  transports: string[];
  /** `singleDevice` (device-bound) or `multiDevice` (may be synced), from the backup-eligible flag. */
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

export type NewPasskey = Omit<PasskeyRecord, 'lastUsedAt'>;

/** An assertion of passkey `passkeyId` (of `userId`) with sign counter `counter`. */
export interface PasskeyUse {
  passkeyId: string;
  userId: string;
  counter: number;
  backedUp: boolean;
}

/** What a WebAuthn challenge was issued for. */
export type WebauthnChallengeKind = 'register' | 'login' | 'second_factor';

export interface WebauthnChallengeRecord {
  /** The challenge, base64url, as the client data carries it. */
  challenge: string;
  kind: WebauthnChallengeKind;
  /** `register`: the account; `second_factor`: the account of the mfa token; `login`: `null`. */
  userId: string | null;
  /** `second_factor`: the MAC of the mfa token it belongs to. */
  mfaTokenMac: string | null;
  /** `register`: the user handle the options named. */
  userHandle: string | null;
  createdAt: number;
  expiresAt: number;
}

/** An account at an external identity provider linked to a local account (docs/oidc.md). */
export interface IdentityRecord {
  id: string;
  userId: string;
  /** The provider's configured id (`google`, `github`). */
  provider: string;
  /** The provider's stable identifier of the account (`sub`, GitHub's numeric id); unique per provider. */
  subject: string;
  /** The address the provider gave when the identity was linked. */
  email: string | null;
  createdAt: number;
}

export interface NewIdentity {
  id: string;
  userId: string;
  provider: string;
  subject: string;
  email: string | null;
  now: number;
}

export interface Store {
  /** Dialect name, for logs and metrics. */
  readonly dialect: 'sqlite' | 'postgres';

  /** Creates or upgrades the schema. Safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** Throws {@link StoreUnavailableError} when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // ── users ───────────────────────────────────────────────────────────────
  /** Throws `ApiError('EMAIL_TAKEN')` when the e-mail exists (case-insensitively; callers pass it normalised). */
  createUser(user: NewUser): Promise<UserRecord>;
  findUserByEmail(email: string): Promise<UserRecord | undefined>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  updateUserRole(userId: string, role: Role, now: number): Promise<boolean>;
  /**
   * Users in creation order (then id), after `after` when given, at most `limit`. `query`: a
   * case-insensitive substring of the address, or exactly an id. A keyset read: paging from the
   * start never repeats or skips a user that existed when it began, whatever is created meanwhile.
   */
  listUsers(options: { query?: string; after?: UserCursor; limit: number }): Promise<UserRecord[]>;
  /**
   * An admin's change of an account, in one transaction with its audit rows (one per field that
   * changed: `admin_role_changed`, `admin_user_disabled`, `admin_user_enabled`,
   * `admin_email_verified`, `admin_email_unverified`). Disabling revokes every session (reason
   * `account_disabled`) and advances the credential generation, so a sign-in in flight creates
   * none; while disabled, `createSession` inserts nothing. Demoting or disabling the last enabled
   * admin is refused (`last_admin`; serialised against concurrent admin changes). `events`: the
   * audit rows written.
   */
  updateUser(
    userId: string,
    change: UserChange,
    now: number,
    actor: AdminActor,
  ): Promise<AdminOutcome<{ user: UserRecord; revokedSessions: number; events: AuditEventInput[] }>>;
  /**
   * Deletes the account and every row it owns (sessions, factors, recovery codes, mfa tokens,
   * passkeys, challenges, links, queued mails) with an `admin_user_deleted` audit row, in one
   * transaction. Audit rows about or by the user keep `userId`/`actorId`; their address, IP,
   * user agent and e-mail details are erased. `last_admin` as in {@link updateUser}.
   */
  deleteUser(userId: string, now: number, actor: AdminActor): Promise<AdminOutcome<{ event: AuditEventInput }>>;
  /** Audit events newest first, filtered (see {@link AuditQuery}). */
  queryAudit(query: AuditQuery): Promise<AuditEventRecord[]>;
  /** Every user's id and stored address, at most `limit` in id order after `afterId` (`latchkey user check-emails`). */
  listUserEmails(options: { afterId?: string; limit: number }): Promise<Array<{ id: string; email: string }>>;
  /**
   * Replaces the stored address `from` by `to`, only while the row still holds `from`; throws
   * `ApiError('EMAIL_TAKEN')` (writing nothing) when another user has `to`. Returns whether it changed.
   */
  updateUserEmail(userId: string, from: string, to: string, now: number): Promise<boolean>;
  /**
   * Replaces the hash only (e.g. bcrypt → argon2id upgrade on login), and only while the user's
   * `credentialGeneration` is still `credentialGeneration`: a rehash of the old password can
   * never overwrite a password changed meanwhile. Returns whether the hash was replaced.
   */
  updatePasswordHash(userId: string, credentialGeneration: number, passwordHash: string, now: number): Promise<boolean>;
  /**
   * One transaction: set the new hash, advance `credentialGeneration` and revoke every live
   * session of the user except `keepSessionId` (reason `password_change`). Returns how many
   * sessions were revoked.
   * "Live" here and in `revokeUserSessions` means not yet revoked: sessions that already
   * expired are revoked too (and counted), so a skewed clock elsewhere cannot revive them.
   */
  changePassword(userId: string, passwordHash: string, keepSessionId: string | null, now: number): Promise<number>;

  // ── sessions ────────────────────────────────────────────────────────────
  /**
   * Inserts the session only if its user still has `credentialGeneration`, together with its
   * audit row (at = the session's `now`), in one transaction (one statement on PostgreSQL, where
   * the user row is share-locked, so a concurrent `changePassword` or `revokeUserSessions`
   * either waits for it and then revokes the new session, or commits first and this inserts
   * nothing). `undefined`, and nothing written, when the user is gone or the generation moved.
   */
  createSession(session: NewSession, audit: WriteAudit): Promise<SessionRecord | undefined>;
  findSession(id: string): Promise<SessionRecord | undefined>;
  /** The session and its user, read in one statement. */
  findSessionWithUser(id: string): Promise<SessionWithUser | undefined>;
  /**
   * Compare-and-swap: only when the row has `counter = expectedCounter`, is not revoked and has
   * not expired at `now` (idle and absolute), set `counter + 1`, `rotatedAt = lastUsedAt = now`,
   * `idleExpiresAt`, and append `audit` — one transaction (one statement on PostgreSQL), so
   * every completed rotation has its audit row and no audit row exists without its rotation.
   * Returns the rotated session with its user, or a fresh read when nothing was written.
   */
  rotateSession(rotation: Rotation): Promise<RotateResult>;
  /** Marks the session revoked unless it already is. Returns whether this call revoked it. */
  revokeSession(id: string, reason: RevokeReason, now: number): Promise<boolean>;
  /**
   * Revokes every live session of the user, except `exceptSessionId` when given, and advances
   * the user's `credentialGeneration` (logins in flight cannot add one afterwards), in one
   * transaction. Returns the count.
   */
  revokeUserSessions(userId: string, reason: RevokeReason, now: number, exceptSessionId?: string): Promise<number>;
  /** Sessions not revoked and not expired at `now`, newest first. */
  listActiveSessions(userId: string, now: number): Promise<SessionRecord[]>;
  /** Deletes sessions that expired or were revoked before `before`. Returns the count. */
  purgeSessions(before: number): Promise<number>;

  // ── signing keys ────────────────────────────────────────────────────────
  /** Every stored key that may still verify a token (state next or current, or retired with expiresAt > now). */
  listSigningKeys(now: number): Promise<SigningKeyRecord[]>;
  /**
   * One transaction: retire every `current` key (retiredAt = now, expiresAt = retiredKeyExpiresAt);
   * when a `next` key exists, promote it to `current` and insert `key` as the new `next`;
   * otherwise insert `key` as the single `current` one. With `nextCreatedBy`, a `next` key
   * created after that time is not promoted: nothing changes and the outcome says when it was
   * created (checked inside the transaction, so of two racing rotations only one can pass).
   */
  rotateSigningKey(
    key: Omit<SigningKeyRecord, 'state' | 'retiredAt' | 'expiresAt'>,
    now: number,
    retiredKeyExpiresAt: number,
    nextCreatedBy?: number,
  ): Promise<RotationOutcome>;
  /**
   * Inserts `key` as current only when no current key exists (first start, possibly racing
   * another instance). Returns the key that is current afterwards.
   */
  insertFirstSigningKey(key: Omit<SigningKeyRecord, 'state' | 'retiredAt' | 'expiresAt'>): Promise<SigningKeyRecord>;
  /**
   * Inserts `key` as `next` only when no `next` key exists (race-safe across instances).
   * Returns the key that is `next` afterwards.
   */
  insertNextSigningKey(key: Omit<SigningKeyRecord, 'state' | 'retiredAt' | 'expiresAt'>): Promise<SigningKeyRecord>;

  // ── audit ───────────────────────────────────────────────────────────────
  appendAudit(event: AuditEventInput): Promise<void>;
  /**
   * Newest last; `afterId` for tailing. With `afterId`: the first `limit` events after it.
   * Without: the latest `limit` events. `limit` defaults to 100 and is capped at 1000.
   */
  listAudit(options?: { afterId?: number; limit?: number }): Promise<AuditEventRecord[]>;
  /** Deletes audit events that happened before `before` (ms). Returns the count. */
  purgeAudit(before: number): Promise<number>;

  // ── e-mail: links and the mail queue ────────────────────────────────────
  /**
   * One transaction: unless `cap` says the user had `cap.max` links of this kind within
   * `cap.windowMs` already (`capped`, nothing written), voids the user's unused links of the same
   * kind (a new reset link voids the older ones, a resend the older verification links), stores
   * `link` and queues `mail` (the message carrying it), with the optional audit row. Nothing is
   * written when the user is gone (`no_user`). The count and the insert share the transaction,
   * so concurrent requests cannot exceed the cap.
   */
  issueLink(link: NewLink, mail: NewMail, audit?: AuditEventInput, cap?: LinkCap): Promise<'issued' | 'capped' | 'no_user'>;
  /** Queues a mail that carries no link (notices), with the optional audit row, in one transaction. */
  enqueueMail(mail: NewMail, audit?: AuditEventInput): Promise<void>;
  /**
   * Consumes a live `reset` link and applies it, in one transaction: marks it used (of N
   * concurrent calls with one link exactly one gets here), sets the hash, advances the
   * credential generation, revokes every session (reason `password_reset`), voids the user's
   * other reset and address-change links, and marks the address verified (the mail reached
   * it). `undefined`, and nothing written, for an unknown, used, voided or expired link.
   */
  resetPassword(mac: string, passwordHash: string, now: number): Promise<{ user: UserRecord; revokedSessions: number } | undefined>;
  /**
   * Consumes a live `verify` or `email_change` link and applies it, in one transaction:
   * `verify` marks the address verified and uses up every verification link of the user;
   * `email_change` switches the address (throws `ApiError('EMAIL_TAKEN')`, and writes nothing,
   * when it is taken by then), marks it verified and voids the user's other reset and change
   * links. `undefined` for an unknown, used, voided or expired link, or a `verify` link whose
   * address is no longer the user's.
   */
  verifyEmail(mac: string, now: number): Promise<VerifiedEmail | undefined>;
  /**
   * Takes the lease (until `now + leaseMs`) of up to `limit` mails that are due: queued with
   * `nextAttemptAt <= now` (or `<= options.dueBy`: a mail tried early), or sending with a lease
   * expired at `now` (a worker died). One transaction:
   * concurrent workers, in this process or another, never hold one mail at once.
   */
  claimMail(owner: string, now: number, leaseMs: number, limit: number, options?: { dueBy?: number }): Promise<ClaimedMail[]>;
  /** Marks a mail this worker holds sent and erases its message. Returns whether it held it. */
  mailSent(id: string, owner: string, now: number): Promise<boolean>;
  /**
   * Releases a mail after a failed attempt: queued again for `retryAt`, or, with `retryAt`
   * `null`, given up (state `dead`, message erased). `error` is a short, secret-free reason.
   */
  mailFailed(id: string, owner: string, retryAt: number | null, error: string): Promise<boolean>;
  /** Makes every queued mail due now (the transport works again). Returns how many were waiting. */
  expediteMail(now: number): Promise<number>;
  /** Counts of the queue by state, for `latchkey mail` and metrics. */
  mailQueueCounts(): Promise<Record<'queued' | 'sending' | 'sent' | 'dead', number>>;

  // ── webhooks: the outbox (docs/admin.md#webhooks) ───────────────────────
  /**
   * Turns the outbox on or off for the database: while on, every audit row written — by any
   * statement, transaction or process — gets its delivery row in the same statement (a trigger).
   * Returns whether the setting changed.
   */
  setWebhookOutbox(enabled: boolean, now: number): Promise<boolean>;
  webhookOutboxEnabled(): Promise<boolean>;
  /**
   * Takes the lease (until `now + leaseMs`) of up to `limit` due deliveries, oldest event first:
   * pending with `nextAttemptAt <= now`, or delivering with a lease expired at `now` (a worker
   * died). One transaction: concurrent workers, in this process or another, never hold one at once.
   */
  claimWebhooks(owner: string, now: number, leaseMs: number, limit: number): Promise<ClaimedWebhook[]>;
  /** Marks a delivery this worker holds delivered. Returns whether it held it. */
  webhookDelivered(eventId: number, owner: string, now: number): Promise<boolean>;
  /** Releases a delivery after a failed attempt: pending again from `retryAt`, or dead (`retryAt` `null`). */
  webhookFailed(eventId: number, owner: string, retryAt: number | null, error: string): Promise<boolean>;
  /** Makes every pending delivery due at `now` (a worker starting). Returns how many were waiting. */
  expediteWebhooks(now: number): Promise<number>;
  /** Dead letters (all, or those of `eventIds`) pending again at `now` with a fresh series of attempts. Returns how many. */
  retryDeadWebhooks(now: number, eventIds?: readonly number[]): Promise<number>;
  /** Deliveries in event order, optionally of one state, at most `limit` (default 100, at most 1000) after `afterId`. */
  listWebhooks(options?: { state?: WebhookState; afterId?: number; limit?: number }): Promise<WebhookDeliveryRecord[]>;
  /** Counts by state, for the CLI, the admin API and metrics. */
  webhookCounts(): Promise<Record<WebhookState, number>>;
  /** Deletes deliveries delivered before `deliveredBefore` and dead letters queued before `deadBefore`. Returns the count. */
  purgeWebhooks(deliveredBefore: number, deadBefore: number): Promise<number>;

  // ── second factors (docs/mfa.md) ────────────────────────────────────────
  /**
   * Stores a pending TOTP enrolment, replacing a pending one of the user. `enrolled`, and
   * nothing written, when the user has a confirmed TOTP factor; `no_user` when the user is gone.
   */
  saveTotpEnrollment(enrollment: { id: string; userId: string; secretSealed: string; now: number }): Promise<'saved' | 'enrolled' | 'no_user'>;
  findTotpFactor(userId: string): Promise<TotpFactorRecord | undefined>;
  /**
   * One transaction: confirms the pending TOTP factor only while it is pending and `step` is
   * later than any step accepted before (conditional UPDATE), replaces the user's recovery codes
   * by `recoveryCodeMacs`, and appends `audit`. Returns whether it confirmed.
   */
  confirmTotp(userId: string, step: number, now: number, recoveryCodeMacs: readonly string[], audit: AuditEventInput): Promise<boolean>;
  /** Deletes the user's TOTP factor (pending or confirmed) and every recovery code, with `audit`, in one transaction. Returns whether a factor was deleted. */
  deleteTotp(userId: string, audit: AuditEventInput): Promise<boolean>;
  /** The user's factors: a confirmed TOTP factor, then passkeys, oldest first. */
  listFactors(userId: string): Promise<FactorRecord[]>;
  /** Unused recovery codes of the user. */
  countRecoveryCodes(userId: string): Promise<number>;
  createMfaToken(token: NewMfaToken): Promise<void>;
  /** The token, while it is unused, unexpired at `now` and has fewer than `maxAttempts` failures. */
  findMfaToken(mac: string, now: number, maxAttempts: number): Promise<MfaTokenRecord | undefined>;
  /**
   * Counts a wrong code against a live token (one conditional UPDATE: of concurrent failures at
   * most `maxAttempts` count). Returns the failures so far, or `undefined` when the token was
   * not live any more.
   */
  recordMfaFailure(mac: string, now: number, maxAttempts: number): Promise<number | undefined>;
  /**
   * The second step, in one transaction: uses up the live token (unused, unexpired, under
   * `maxAttempts` failures) of `userId` and applies `proof` — accepts the TOTP time step only if
   * it is later than every step accepted before, or marks the unused recovery code used. Both
   * happen or neither: `token_invalid` (nothing written) when the token is not live,
   * `code_refused` (nothing written) when the step was accepted before or the code is unknown
   * or used. Conditional UPDATEs: of concurrent calls with one token, or one code, one wins.
   */
  completeMfa(
    mac: string,
    userId: string,
    now: number,
    maxAttempts: number,
    proof: SecondFactorProof,
  ): Promise<'ok' | 'code_refused' | 'token_invalid'>;

  // ── passkeys (docs/mfa.md#passkeys) ─────────────────────────────────────
  /** Stores a new challenge, and deletes the challenges that expired before `record.createdAt`. */
  createWebauthnChallenge(record: WebauthnChallengeRecord): Promise<void>;
  /**
   * Consumes a challenge of `kind`: one conditional UPDATE sets `used_at` while it is unused and
   * unexpired at `now`. Returns the challenge to the one caller that consumed it; `undefined` to
   * every other (unknown, other kind, used, expired) — of N concurrent calls exactly one wins.
   */
  consumeWebauthnChallenge(challenge: string, kind: WebauthnChallengeKind, now: number): Promise<WebauthnChallengeRecord | undefined>;
  /**
   * Stores a passkey with `audit`, in one transaction. `duplicate` (nothing written) when the
   * credential id is registered already, to anyone; `no_user` when the user is gone.
   */
  insertPasskey(passkey: NewPasskey, audit: AuditEventInput): Promise<'saved' | 'duplicate' | 'no_user'>;
  findPasskeyByCredentialId(credentialId: string): Promise<PasskeyRecord | undefined>;
  /** The user's passkeys, oldest first. */
  listPasskeys(userId: string): Promise<PasskeyRecord[]>;
  /**
   * Records a sign-in with a passkey: one conditional UPDATE advances the sign counter only when
   * `use.counter` is greater than the stored one (or both are 0). `false` (nothing written) on a
   * regression or when the passkey is gone — of concurrent uses with one counter, one wins.
   */
  usePasskey(use: PasskeyUse, now: number): Promise<boolean>;
  /** Deletes the user's passkey `id` with `audit`, in one transaction. `false` when the user has no such passkey. */
  deletePasskey(userId: string, id: string, audit: AuditEventInput): Promise<boolean>;
  // ── external identities (docs/oidc.md) ──────────────────────────────────
  /**
   * One transaction: a new account without a password (`passwordHash` is ignored: stored as the
   * empty string no password matches), its address verified at `now` when `emailVerified`, and
   * `identity` linked to it, with `audit`. `email_taken` or `identity_taken` (nothing written)
   * when another account has the address or another callback linked the identity first.
   */
  createFederatedUser(
    user: NewUser & { emailVerified: boolean },
    identity: Omit<NewIdentity, 'userId'>,
    audit: AuditEventInput,
  ): Promise<{ user: UserRecord; identity: IdentityRecord } | 'email_taken' | 'identity_taken'>;
  /** Links `identity`, with `audit`; `taken` (nothing written) when the provider's subject is linked already (to anyone). */
  linkIdentity(identity: NewIdentity, audit: AuditEventInput): Promise<IdentityRecord | 'taken'>;
  findIdentity(provider: string, subject: string): Promise<IdentityRecord | undefined>;
  /** The user's identities, oldest first. */
  listIdentities(userId: string): Promise<IdentityRecord[]>;
  /**
   * One transaction: deletes the user's identity `identityId`, with `audit`, unless it is the
   * account's last way to sign in (no password, no other identity, no passkey): `last_method`.
   * `not_found` for an identity of another user.
   */
  unlinkIdentity(userId: string, identityId: string, audit: AuditEventInput): Promise<'unlinked' | 'not_found' | 'last_method'>;
  /**
   * Marks the sign-in flow `flowId` as used until `expiresAt`; `false` when it was used before
   * (of concurrent claims one wins). Forgets flows that expired before `now`.
   */
  claimOAuthFlow(flowId: string, expiresAt: number, now: number): Promise<boolean>;
}

/** What {@link Store.rotateSigningKey} did. */
export type RotationOutcome = { rotated: true } | { rotated: false; nextCreatedAt: number };
