/**
 * Account recovery and address proof: forgot/reset, verification (+ resend), address change,
 * and the notices that go with them (docs/email.md). Policy lives here; the store makes each
 * consumption atomic, the mail queue makes each mail durable, the HTTP edge only translates.
 *
 * Link tokens are 256 random bits, sent once in a mail's URL fragment and stored only as
 * HMAC-SHA256 under a key derived from the master secret: a database dump holds no usable
 * link. Whether an address has an account never shows: `forgot` answers the same for every
 * address, before it looks anything up (the lookup and the mail happen after the answer).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { MailQueue } from '../mail/queue.js';
import type { MailKind } from '../mail/templates.js';
import type { AuditEventInput, LinkKind, Store, UserRecord } from '../store/types.js';
import { assertPasswordPolicy, hashPassword, isPasswordLengthInvalid, normalizePassword, verifyPassword, type PasswordRule } from './passwords.js';
import type { RateLimiter } from './rate-limit.js';

export interface EmailFlowOptions {
  store: Store;
  mail: MailQueue;
  /** HMAC key of link tokens, derived from the master secret. */
  linkMacKey: Buffer;
  /** Where the link pages are: `${appUrl}/auth/reset-password#token=…`. */
  appUrl: string;
  /** The app's own pages instead, with `{token}` in the fragment. */
  resetUrl?: string | undefined;
  verifyUrl?: string | undefined;
  /** Seconds. */
  resetTokenTtl: number;
  verifyTokenTtl: number;
  passwordRules: readonly PasswordRule[];
  /** Normalises and validates an address (throws `VALIDATION_FAILED`). */
  normalizeEmail: (email: string) => string;
  rateLimiter?: RateLimiter | undefined;
  now: () => number;
  audit: (event: AuditEventInput) => Promise<void>;
  /** Told about work done after the answer (forgot) that failed: it is logged, never shown. */
  onBackgroundError?: (error: unknown) => void;
}

export interface FlowContext {
  ip: string | null;
}

/** At most this many mails of one kind per address per {@link MAIL_CAP_WINDOW_MS}. */
const MAIL_CAP = 3;
const MAIL_CAP_WINDOW_MS = 15 * 60_000;
/** Longest token we look at: 256 bits in base64url are 43 characters. */
const TOKEN_LENGTH = 43;

const duration = (seconds: number) => {
  if (seconds % 86400 === 0) return `${seconds / 86400} day${seconds === 86400 ? '' : 's'}`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} seconds`;
};

export class EmailFlows {
  readonly #o: EmailFlowOptions;
  /** Work started after an answer (forgot); `drain()` waits for it (shutdown, tests). */
  readonly #pending = new Set<Promise<void>>();

  constructor(options: EmailFlowOptions) {
    this.#o = options;
  }

  /** The MAC a token is stored as. */
  #mac(token: string): string {
    return createHmac('sha256', this.#o.linkMacKey).update(token).digest('base64url');
  }

  /** A token as the client sent it, or `LINK_INVALID` for anything that cannot be one. */
  #presented(token: unknown): string {
    if (typeof token !== 'string' || token.length !== TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw new ApiError('LINK_INVALID');
    return token;
  }

  #linkUrl(kind: LinkKind, token: string): string {
    const custom = kind === 'reset' ? this.#o.resetUrl : this.#o.verifyUrl;
    if (custom) return custom.replace('{token}', token);
    const page = kind === 'reset' ? 'reset-password' : 'verify-email';
    return `${this.#o.appUrl.replace(/\/$/, '')}/auth/${page}#token=${token}`;
  }

  /** Counts a notice (a mail without a link) against the per-address cap; false: over it, send nothing. */
  async #underCap(kind: MailKind, email: string): Promise<boolean> {
    const limiter = this.#o.rateLimiter;
    if (!limiter) return true;
    const { count } = await limiter.store.increment(`mail:${kind}:${limiter.accountHash(email)}`, MAIL_CAP_WINDOW_MS);
    return count <= MAIL_CAP;
  }

  /** Creates a link for `user`, voiding older ones of its kind, and queues its mail, in one transaction. */
  async #sendLink(
    user: UserRecord,
    kind: LinkKind,
    mailKind: MailKind,
    to: string,
    values: Record<string, string>,
    audit: AuditEventInput,
  ): Promise<void> {
    const token = randomBytes(32).toString('base64url');
    const now = this.#o.now();
    const ttl = kind === 'reset' ? this.#o.resetTokenTtl : this.#o.verifyTokenTtl;
    const mail = this.#o.mail.compose(mailKind, to, { ...values, email: user.email, link: this.#linkUrl(kind, token), expiresIn: duration(ttl) });
    // The per-address cap of link mails is counted in the database, with the insert: it holds
    // across instances, and with rate limits off.
    const issued = await this.#o.store.issueLink(
      { mac: this.#mac(token), userId: user.id, kind, newEmail: kind === 'email_change' ? to : null, now, expiresAt: now + ttl * 1000 },
      mail,
      audit,
      { max: MAIL_CAP, windowMs: MAIL_CAP_WINDOW_MS },
    );
    if (issued === 'issued') this.#o.mail.kick();
  }

  async #notice(kind: MailKind, to: string, values: Record<string, string> = {}, audit?: AuditEventInput): Promise<void> {
    await this.#o.store.enqueueMail(this.#o.mail.compose(kind, to, { email: to, ...values }), audit);
    this.#o.mail.kick();
  }

  #background(work: () => Promise<void>): void {
    const running: Promise<void> = work()
      .catch((error: unknown) => this.#o.onBackgroundError?.(error))
      .finally(() => this.#pending.delete(running));
    this.#pending.add(running);
  }

  /** Waits for the work `forgot` left running after its answers. */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  // ── forgot / reset ───────────────────────────────────────────────────────

  /**
   * Always resolves (202) for any string: known, unknown, malformed or capped addresses look
   * the same. Only the per-IP limit answers differently (429). The lookup and the mail run
   * after the answer, so its timing says nothing either.
   */
  async forgot(email: string, ctx: FlowContext): Promise<void> {
    await this.#o.rateLimiter?.beforeForgot(ctx.ip);
    this.#background(async () => {
      let normalized: string;
      try {
        normalized = this.#o.normalizeEmail(email);
      } catch {
        return; // not an address: no mail, same answer
      }
      const user = await this.#o.store.findUserByEmail(normalized);
      if (!user) return;
      await this.#sendLink(
        user,
        'reset',
        'reset_password',
        user.email,
        {},
        { type: 'password_reset_requested', at: this.#o.now(), userId: user.id, ip: ctx.ip },
      );
    });
  }

  /**
   * Sets a new password with a reset link: every session ends, the other links die, a notice
   * goes to the address. A weak password is refused before the link is touched, so it stays usable.
   */
  async reset(token: unknown, newPassword: string, ctx: FlowContext): Promise<void> {
    await this.#o.rateLimiter?.beforeLinkUse(ctx.ip);
    const presented = this.#presented(token);
    const password = assertPasswordPolicy(newPassword, this.#o.passwordRules);
    const now = this.#o.now();
    const done = await this.#o.store.resetPassword(this.#mac(presented), await hashPassword(password), now);
    if (!done) throw new ApiError('LINK_INVALID');
    await this.#o.audit({ type: 'password_reset', at: now, userId: done.user.id, ip: ctx.ip, detail: { revokedSessions: done.revokedSessions } });
    await this.#notice('password_changed', done.user.email);
  }

  // ── verification ─────────────────────────────────────────────────────────

  /** The verification mail of a new account. */
  async sendVerification(user: UserRecord, ctx: FlowContext): Promise<void> {
    await this.#sendLink(
      user,
      'verify',
      'verify_email',
      user.email,
      {},
      { type: 'email_verification_sent', at: this.#o.now(), userId: user.id, ip: ctx.ip },
    );
  }

  /** A registration with a taken address while verification is required: tell its owner, nobody else. */
  async registrationAttempted(user: UserRecord, ctx: FlowContext): Promise<void> {
    if (!(await this.#underCap('register_attempt', user.email))) return;
    await this.#notice('register_attempt', user.email, {}, { type: 'register_attempt_existing', at: this.#o.now(), userId: user.id, ip: ctx.ip });
  }

  /** `POST /auth/email/verify/resend`: a new link (the older ones die); nothing for a verified account. */
  async resend(userId: string, ctx: FlowContext): Promise<void> {
    const user = await this.#o.store.findUserById(userId);
    if (!user || user.emailVerifiedAt !== null) return;
    await this.sendVerification(user, ctx);
  }

  /** Consumes a verification or address-change link. */
  async verify(token: unknown, ctx: FlowContext): Promise<UserRecord> {
    await this.#o.rateLimiter?.beforeLinkUse(ctx.ip);
    const now = this.#o.now();
    const done = await this.#o.store.verifyEmail(this.#mac(this.#presented(token)), now);
    if (!done) throw new ApiError('LINK_INVALID');
    await this.#o.audit(
      done.kind === 'verify'
        ? { type: 'email_verified', at: now, userId: done.user.id, ip: ctx.ip }
        : { type: 'email_changed', at: now, userId: done.user.id, ip: ctx.ip, detail: { previousDomain: done.previousEmail?.split('@')[1] ?? null } },
    );
    return done.user;
  }

  // ── address change ───────────────────────────────────────────────────────

  /**
   * Starts an address change: the password is checked (a login attempt for the limits), the new
   * address must be free now, a link goes to it and a notice to the current one.
   */
  async changeEmail(userId: string, newEmail: string, currentPassword: string, ctx: FlowContext): Promise<void> {
    const user = await this.#o.store.findUserById(userId);
    if (!user) throw new ApiError('INVALID_TOKEN');
    const target = this.#o.normalizeEmail(newEmail);
    const ticket = await this.#o.rateLimiter?.beforeLogin(user.email, ctx.ip);
    const password = normalizePassword(currentPassword);
    if (isPasswordLengthInvalid(password) || !(await verifyPassword(user.passwordHash, password))) {
      throw new ApiError('INVALID_CREDENTIALS', 'The current password is not correct.');
    }
    if (ticket) await this.#o.rateLimiter?.loginSucceeded(ticket);
    if (target === user.email || (await this.#o.store.findUserByEmail(target))) throw new ApiError('EMAIL_TAKEN');
    const now = this.#o.now();
    await this.#sendLink(
      user,
      'email_change',
      'email_change_confirm',
      target,
      { newEmail: target },
      { type: 'email_change_requested', at: now, userId: user.id, ip: ctx.ip },
    );
    await this.#notice('email_change_notice', user.email, { newEmail: target });
  }

  /** The "your password was changed" notice after `POST /auth/password`. */
  async passwordChanged(user: UserRecord): Promise<void> {
    await this.#notice('password_changed', user.email);
  }
}
