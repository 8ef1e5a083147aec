/**
 * `latchkey/client` — the browser SDK (docs/client.md). Web APIs only: no Node built-ins, no
 * runtime dependencies.
 */
export { createAuthClient } from './client.js';
export type {
  AuthClient,
  AuthClientOptions,
  AuthChange,
  AuthChangeType,
  AuthChangeListener,
  LoginResult,
  MfaAnswer,
  SignInBuilder,
} from './client.js';
export { AuthError } from './errors.js';
export type { AuthErrorCode } from './errors.js';
export type { Duration } from './duration.js';
