/**
 * A signed-in user's view of their sessions: the live ones as they are shown (docs/http-api.md,
 * "List sessions"), revoking one, and ending all of them ("Logout everywhere"). Each needs the
 * caller's own session to be live.
 */
import { ApiError } from '../errors.js';
import type { Store } from '../store/types.js';
import type { AuthUser } from './access-token.js';
import type { Audit, RequestContext } from './audit.js';
import type { BearerAuth } from './bearer-auth.js';
import { sessionExpiresAt } from './refresh.js';

export interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

export interface SessionViewsOptions {
  store: Store;
  bearer: BearerAuth;
  now: () => number;
  audit: Audit;
}

export class SessionViews {
  readonly #o: SessionViewsOptions;

  constructor(options: SessionViewsOptions) {
    this.#o = options;
  }

  async list(principal: AuthUser): Promise<SessionView[]> {
    await this.#o.bearer.requireLiveSession(principal);
    const sessions = await this.#o.store.listActiveSessions(principal.id, this.#o.now());
    return sessions.map((s) => ({
      id: s.id,
      createdAt: new Date(s.createdAt).toISOString(),
      lastUsedAt: new Date(s.lastUsedAt).toISOString(),
      expiresAt: new Date(sessionExpiresAt(s)).toISOString(),
      userAgent: s.userAgent,
      ip: s.ip,
      current: s.id === principal.sessionId,
    }));
  }

  async revoke(principal: AuthUser, sessionId: string, ctx: RequestContext): Promise<void> {
    await this.#o.bearer.requireLiveSession(principal);
    const { store } = this.#o;
    const session = await store.findSession(sessionId);
    // Another user's session is indistinguishable from a missing one.
    if (!session || session.userId !== principal.id || session.revokedAt !== null) throw new ApiError('NOT_FOUND', 'No such session.');
    const now = this.#o.now();
    if (!(await store.revokeSession(sessionId, 'revoked', now))) throw new ApiError('NOT_FOUND', 'No such session.');
    await this.#o.audit({ type: 'session_revoked', at: now, userId: principal.id, sessionId, ip: ctx.ip });
  }

  async logoutAll(principal: AuthUser, ctx: RequestContext): Promise<number> {
    await this.#o.bearer.requireLiveSession(principal);
    const now = this.#o.now();
    const count = await this.#o.store.revokeUserSessions(principal.id, 'logout_all', now);
    await this.#o.audit({ type: 'logout_all', at: now, userId: principal.id, sessionId: principal.sessionId, ip: ctx.ip, detail: { count } });
    return count;
  }
}
