/**
 * `checkSession: true`: is the session behind an access token still live? Answers are cached
 * briefly so a protected route does not hit the database on every request: a live answer for
 * at most `ttlMs` (default 2 s, at most 5 s — the delay before a revocation takes effect), a
 * dead one for good (a revoked or expired session never comes back). Concurrent checks of one
 * session share one lookup. Lookup failures are not cached and propagate (→ 503).
 */
export const DEFAULT_SESSION_CACHE_MS = 2_000;
export const MAX_SESSION_CACHE_MS = 5_000;
const MAX_ENTRIES = 10_000;

export type SessionCheck = (sessionId: string) => Promise<boolean>;

export function cachedSessionCheck(isLive: SessionCheck, ttlMs: number, now: () => number): SessionCheck {
  const cache = new Map<string, { live: boolean; until: number }>();
  const pending = new Map<string, Promise<boolean>>();

  function remember(sessionId: string, live: boolean): void {
    if (ttlMs === 0 && live) return;
    cache.delete(sessionId);
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
    cache.set(sessionId, { live, until: live ? now() + ttlMs : Number.POSITIVE_INFINITY });
  }

  return (sessionId) => {
    const hit = cache.get(sessionId);
    if (hit && now() < hit.until) return Promise.resolve(hit.live);
    const inflight = pending.get(sessionId);
    if (inflight) return inflight;
    const lookup = isLive(sessionId).then((live) => {
      remember(sessionId, live);
      return live;
    });
    pending.set(sessionId, lookup);
    void lookup.then(
      () => pending.delete(sessionId),
      () => pending.delete(sessionId),
    );
    return lookup;
  };
}
