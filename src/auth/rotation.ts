/**
 * The refresh decision table (docs/architecture.md, "POST /auth/refresh"), as a pure function:
 * given the session row as the store returned it after a compare-and-swap that wrote nothing,
 * the counter the presented refresh token carries, the time and the grace window, what to do.
 * No I/O, no clock: the service reads the clock and does what this says.
 */

/** The part of a session the decision reads. */
export interface RotationState {
  counter: number;
  rotatedAt: number | null;
  revokedAt: number | null;
  revokedReason: string | null;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
}

export type RotationDecision =
  /** Refuse with this code; nothing to write. */
  | { action: 'refuse'; code: 'REFRESH_TOKEN_REUSED' | 'INVALID_REFRESH_TOKEN' | 'SESSION_EXPIRED' }
  /** The presented token is the current one (the swap lost a race): swap again at `counter`. */
  | { action: 'retry' }
  /** Within the grace window: hand out the session's current token again, no write. */
  | { action: 'reissue' }
  /** A spent token outside the grace window: revoke the session for reuse. */
  | { action: 'revoke' };

/**
 * Decides what a refresh with a token of `presentedCounter` does to a session in `state`, at
 * `now` (ms), with a grace window of `graceMs`.
 *
 * Time elapsed since the rotation is never negative: `now` is read before the request's first
 * compare-and-swap, so a concurrent winner may have rotated *after* it (its `rotatedAt` later
 * than our `now`). Counting that as "−3 ms since the rotation" would put every such loser inside
 * any grace window, including a window of 0; it counts as 0 ms instead.
 */
export function decideRotation(state: RotationState, presentedCounter: number, now: number, graceMs: number): RotationDecision {
  if (state.revokedAt !== null) {
    return { action: 'refuse', code: state.revokedReason === 'reuse' ? 'REFRESH_TOKEN_REUSED' : 'INVALID_REFRESH_TOKEN' };
  }
  if (now >= state.idleExpiresAt || now >= state.absoluteExpiresAt) return { action: 'refuse', code: 'SESSION_EXPIRED' };
  if (presentedCounter === state.counter) return { action: 'retry' };
  if (presentedCounter === state.counter - 1 && state.rotatedAt !== null) {
    const elapsed = Math.max(0, now - state.rotatedAt);
    if (elapsed < graceMs) return { action: 'reissue' };
  }
  return { action: 'revoke' };
}
