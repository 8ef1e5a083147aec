/**
 * Administration (docs/admin.md): who may administer, and what an admin — through `/admin`, the
 * admin page or the CLI — may do to an account. The HTTP routes and the CLI only translate; the
 * rules are here: the caller must hold role `admin` in the store (not only in its token), with a
 * live session, at aal2 when the admin has a second factor; roles match {@link ROLE_PATTERN};
 * nothing leaves the deployment without an enabled admin (`LAST_ADMIN`); every change is audited
 * with its actor (the admin's id, or `cli`).
 */
import { ApiError } from '../errors.js';
import type {
  AdminActor,
  AuditEventInput,
  AuditEventRecord,
  FactorRecord,
  Store,
  UserChange,
  UserRecord,
  WebhookDeliveryRecord,
  WebhookState,
} from '../store/types.js';
import type { AuthUser } from './access-token.js';
import type { Audit, RequestContext } from './audit.js';
import type { BearerAuth } from './bearer-auth.js';
import { emailKey } from './email.js';
import { requireAal2 } from './mfa.js';
import { assertPasswordPolicy, hashPassword, type PasswordRule } from './passwords.js';
import { sessionExpiresAt } from './refresh.js';

/** What a role may be: 1–64 of letters, digits and `_ . : -`. */
const ROLE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The actor of command-line actions in audit rows. */
export const CLI_ACTOR: AdminActor = { actorId: 'cli', ip: null };

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;

export interface AdminUserView {
  id: string;
  email: string;
  role: string;
  disabled: boolean;
  emailVerified: boolean;
  createdAt: string;
}

export interface AdminSessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  /** How the session signed in (`aal1`/`aal2`) and with what (`amr`). */
  acr: string;
  amr: string[];
}

export interface AdminFactorView {
  id: string;
  type: FactorRecord['type'];
  createdAt: string;
  lastUsedAt: string | null;
}

export interface AdminUserDetail {
  user: AdminUserView;
  sessions: AdminSessionView[];
  factors: AdminFactorView[];
}

export interface AuditEventView {
  id: number;
  type: string;
  at: string;
  userId: string | null;
  actorId: string | null;
  sessionId: string | null;
  ip?: string;
  data: Record<string, unknown>;
}

/** A webhook delivery as the admin API and `latchkey webhooks list` show it (docs/admin.md#webhooks). */
export interface WebhookDeliveryView {
  /** The audit event's id: the `webhook-id`. */
  id: number;
  type: string;
  at: string;
  userId: string | null;
  state: WebhookState;
  /** Attempts of the current series. */
  attempts: number;
  queuedAt: string;
  /** Pending deliveries: when the next attempt is due. */
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  /** The last failure: `HTTP 500`, `timeout`, `ECONNREFUSED` — never the receiver's text. */
  lastError: string | null;
}

const WEBHOOK_STATES: readonly WebhookState[] = ['pending', 'delivering', 'delivered', 'dead'];
/** At most this many ids in one retry request. */
const MAX_RETRY_IDS = 100;

export function toDeliveryView(d: WebhookDeliveryRecord): WebhookDeliveryView {
  return {
    id: d.eventId,
    type: d.type,
    at: iso(d.at),
    userId: d.userId,
    state: d.state,
    attempts: d.attempts,
    queuedAt: iso(d.queuedAt),
    nextAttemptAt: d.state === 'pending' ? iso(d.nextAttemptAt) : null,
    deliveredAt: d.deliveredAt === null ? null : iso(d.deliveredAt),
    lastError: d.lastError,
  };
}

export interface AdministrationOptions {
  store: Store;
  bearer: BearerAuth;
  now: () => number;
  audit: Audit;
  onEvent?: ((event: AuditEventInput) => void) | undefined;
  passwordRules: readonly PasswordRule[];
}

const iso = (ms: number) => new Date(ms).toISOString();

function toAdminUser(user: UserRecord): AdminUserView {
  return {
    id: user.id,
    email: user.email,
    role: user.role,
    disabled: user.disabledAt !== null,
    emailVerified: user.emailVerifiedAt !== null,
    createdAt: iso(user.createdAt),
  };
}

function toEventView(event: AuditEventRecord): AuditEventView {
  return {
    id: event.id,
    type: event.type,
    at: iso(event.at),
    userId: event.userId,
    actorId: event.actorId,
    sessionId: event.sessionId,
    ...(event.ip === null ? {} : { ip: event.ip }),
    data: event.detail ?? {},
  };
}

/** Opaque cursors: base64url of the keyset position, checked on the way back in. */
function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeCursor(cursor: string): unknown {
  try {
    if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) throw new Error('shape');
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new ApiError('VALIDATION_FAILED', 'Invalid cursor.');
  }
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new ApiError('VALIDATION_FAILED', `limit must be 1–${MAX_LIMIT}.`);
  return limit;
}

function outcomeError(reason: 'no_user' | 'last_admin'): ApiError {
  return reason === 'no_user' ? new ApiError('NOT_FOUND', 'No such user.') : new ApiError('LAST_ADMIN');
}

export class Administration {
  readonly #o: AdministrationOptions;

  constructor(options: AdministrationOptions) {
    this.#o = options;
  }

  /**
   * The caller of an `/admin` request as the actor of what it does: a live session (else 401
   * `SESSION_REVOKED`), role `admin` in the store now (else 403 `FORBIDDEN`: a token minted before
   * a demotion is not enough), and aal2 when the admin has a second factor (else 401
   * `STEP_UP_REQUIRED` with its challenge).
   */
  async authorize(principal: AuthUser, ctx: RequestContext): Promise<AdminActor> {
    await this.#o.bearer.requireLiveSession(principal);
    const user = await this.#o.store.findUserById(principal.id);
    if (!user || user.disabledAt !== null) throw new ApiError('SESSION_REVOKED');
    if (user.role !== 'admin') throw new ApiError('FORBIDDEN');
    if ((await this.#o.store.listFactors(user.id)).length > 0) requireAal2(principal, this.#o.now());
    return { actorId: user.id, ip: ctx.ip };
  }

  async listUsers(options: { query?: string; limit?: number; cursor?: string }): Promise<{ users: AdminUserView[]; nextCursor: string | null }> {
    const limit = pageLimit(options.limit);
    let after: { createdAt: number; id: string } | undefined;
    if (options.cursor !== undefined) {
      const value = decodeCursor(options.cursor);
      if (!Array.isArray(value) || !Number.isSafeInteger(value[0]) || typeof value[1] !== 'string') {
        throw new ApiError('VALIDATION_FAILED', 'Invalid cursor.');
      }
      after = { createdAt: value[0] as number, id: value[1] };
    }
    const query = options.query?.trim();
    if (query !== undefined && query.length > 320) throw new ApiError('VALIDATION_FAILED', 'query is too long.');
    // One more than asked: a full page says whether another follows.
    const rows = await this.#o.store.listUsers({ limit: limit + 1, ...(after ? { after } : {}), ...(query ? { query } : {}) });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { users: page.map(toAdminUser), nextCursor: rows.length > limit && last ? encodeCursor([last.createdAt, last.id]) : null };
  }

  async #user(userId: string): Promise<UserRecord> {
    const user = await this.#o.store.findUserById(userId);
    if (!user) throw new ApiError('NOT_FOUND', 'No such user.');
    return user;
  }

  /** The user by address (the CLI's handle on accounts); 404 `NOT_FOUND` when there is none. */
  async findByEmail(email: string): Promise<UserRecord> {
    const user = await this.#o.store.findUserByEmail(emailKey(email));
    if (!user) throw new ApiError('NOT_FOUND', 'No such user.');
    return user;
  }

  /** The account with its live sessions and confirmed factors (never a secret). */
  async getUser(userId: string): Promise<AdminUserDetail> {
    const user = await this.#user(userId);
    const now = this.#o.now();
    const [sessions, factors] = await Promise.all([this.#o.store.listActiveSessions(user.id, now), this.#o.store.listFactors(user.id)]);
    return {
      user: toAdminUser(user),
      sessions: sessions.map((s) => ({
        id: s.id,
        createdAt: iso(s.createdAt),
        lastUsedAt: iso(s.lastUsedAt),
        expiresAt: iso(sessionExpiresAt(s)),
        userAgent: s.userAgent,
        ip: s.ip,
        acr: s.acr,
        amr: s.amr,
      })),
      factors: factors.map((f) => ({
        id: f.id,
        type: f.type,
        createdAt: iso(f.createdAt),
        lastUsedAt: f.lastUsedAt === null ? null : iso(f.lastUsedAt),
      })),
    };
  }

  /**
   * Changes role, disabled and/or verification in one transaction. Disabling revokes every
   * session at once (refresh → 401 `INVALID_REFRESH_TOKEN`, session-checked routes → 401
   * `SESSION_REVOKED`, login → 403 `ACCOUNT_DISABLED` after a correct password); enabling
   * restores none. The role reaches the next refresh's access token.
   */
  async updateUser(userId: string, change: UserChange, actor: AdminActor): Promise<AdminUserView> {
    if (change.role !== undefined && (typeof change.role !== 'string' || !ROLE_PATTERN.test(change.role))) {
      throw new ApiError('VALIDATION_FAILED', 'role must be 1–64 of A–Z, a–z, 0–9, _ . : -');
    }
    const result = await this.#o.store.updateUser(userId, change, this.#o.now(), actor);
    if (!result.ok) throw outcomeError(result.reason);
    for (const event of result.events) this.#o.onEvent?.(event);
    return toAdminUser(result.user);
  }

  /** Deletes the account and everything it owns; its audit rows keep only the id. */
  async deleteUser(userId: string, actor: AdminActor): Promise<void> {
    const result = await this.#o.store.deleteUser(userId, this.#o.now(), actor);
    if (!result.ok) throw outcomeError(result.reason);
    this.#o.onEvent?.(result.event);
  }

  /**
   * Revokes every session of the account (and advances its credential generation: a sign-in in
   * flight creates none), or only `sessionId` of it. Returns how many were revoked.
   */
  async revokeSessions(userId: string, actor: AdminActor, sessionId?: string): Promise<number> {
    const user = await this.#user(userId);
    const now = this.#o.now();
    let count: number;
    if (sessionId === undefined) {
      count = await this.#o.store.revokeUserSessions(user.id, 'admin', now);
    } else {
      const session = await this.#o.store.findSession(sessionId);
      if (!session || session.userId !== user.id || session.revokedAt !== null) throw new ApiError('NOT_FOUND', 'No such session.');
      count = (await this.#o.store.revokeSession(sessionId, 'admin', now)) ? 1 : 0;
    }
    await this.#o.audit({
      type: 'admin_sessions_revoked',
      at: now,
      userId: user.id,
      actorId: actor.actorId,
      ip: actor.ip,
      ...(sessionId === undefined ? {} : { sessionId }),
      detail: { count },
    });
    return count;
  }

  /** Sets a new password (the policy applies) and revokes every session of the account. */
  async setPassword(userId: string, password: string, actor: AdminActor): Promise<number> {
    const user = await this.#user(userId);
    const hash = await hashPassword(assertPasswordPolicy(password, this.#o.passwordRules));
    const now = this.#o.now();
    const revokedSessions = await this.#o.store.changePassword(user.id, hash, null, now);
    await this.#o.audit({ type: 'admin_password_set', at: now, userId: user.id, actorId: actor.actorId, ip: actor.ip, detail: { revokedSessions } });
    return revokedSessions;
  }

  /** The webhook outbox in event order, optionally of one state, a page at a time. */
  async listWebhooks(options: {
    state?: string;
    limit?: number;
    cursor?: string;
  }): Promise<{ deliveries: WebhookDeliveryView[]; nextCursor: string | null }> {
    const limit = pageLimit(options.limit);
    if (options.state !== undefined && !WEBHOOK_STATES.includes(options.state as WebhookState)) {
      throw new ApiError('VALIDATION_FAILED', `state must be one of ${WEBHOOK_STATES.join(', ')}.`);
    }
    let afterId: number | undefined;
    if (options.cursor !== undefined) {
      const value = decodeCursor(options.cursor);
      if (!Number.isSafeInteger(value) || (value as number) < 1) throw new ApiError('VALIDATION_FAILED', 'Invalid cursor.');
      afterId = value as number;
    }
    const rows = await this.#o.store.listWebhooks({
      limit: limit + 1,
      ...(options.state === undefined ? {} : { state: options.state as WebhookState }),
      ...(afterId === undefined ? {} : { afterId }),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { deliveries: page.map(toDeliveryView), nextCursor: rows.length > limit && last ? encodeCursor(last.eventId) : null };
  }

  /**
   * Dead-lettered webhook deliveries — all, or those of `eventIds` — pending again with a fresh
   * series of attempts; audited `admin_webhooks_retried`. Returns how many were dead letters.
   */
  async retryWebhooks(actor: AdminActor, eventIds?: readonly number[]): Promise<number> {
    if (eventIds !== undefined && (eventIds.length > MAX_RETRY_IDS || !eventIds.every((id) => Number.isSafeInteger(id) && id > 0))) {
      throw new ApiError('VALIDATION_FAILED', `ids must be up to ${MAX_RETRY_IDS} event ids.`);
    }
    const now = this.#o.now();
    const count = await this.#o.store.retryDeadWebhooks(now, eventIds);
    await this.#o.audit({
      type: 'admin_webhooks_retried',
      at: now,
      actorId: actor.actorId,
      ip: actor.ip,
      detail: { count, ...(eventIds === undefined ? {} : { requested: eventIds.length }) },
    });
    return count;
  }

  /** The audit log, newest first; `userId` matches events about or by that user. */
  async queryAudit(options: { userId?: string; actorId?: string; type?: string; limit?: number; cursor?: string }) {
    const limit = pageLimit(options.limit);
    let before: number | undefined;
    if (options.cursor !== undefined) {
      const value = decodeCursor(options.cursor);
      if (!Number.isSafeInteger(value) || (value as number) < 1) throw new ApiError('VALIDATION_FAILED', 'Invalid cursor.');
      before = value as number;
    }
    for (const [name, value] of Object.entries({ userId: options.userId, actorId: options.actorId, type: options.type })) {
      if (value !== undefined && value.length > 200) throw new ApiError('VALIDATION_FAILED', `${name} is too long.`);
    }
    const rows = await this.#o.store.queryAudit({
      limit: limit + 1,
      ...(before === undefined ? {} : { before }),
      ...(options.userId ? { userId: options.userId } : {}),
      ...(options.actorId ? { actorId: options.actorId } : {}),
      ...(options.type ? { type: options.type } : {}),
    });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { events: page.map(toEventView), nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }
}
