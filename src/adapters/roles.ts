/** Role check of `requireRole`: the token's `role` claim must be one of the allowed roles. */
import type { AuthUser } from './authenticate.js';

export function hasRole(user: AuthUser, allowed: ReadonlySet<string>): boolean {
  return allowed.has(user.role);
}
