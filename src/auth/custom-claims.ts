/**
 * Custom claims for embedders (docs/embedding.md#custom-claims): `createLatchkey({ claims })`
 * adds claims of the embedder's own to every access token, at login and at every refresh (so a
 * change reaches the next refresh, like the role). The claims Latchkey itself issues or that
 * verifiers interpret are reserved: names declared up front (`{ names, value }`) are checked at
 * start-up (`ConfigError`); the names a function returns are checked each time a token is minted
 * (`CLAIMS_INVALID`: no token, the sign-in or refresh answers 500 `INTERNAL`).
 */
import { ConfigError, LatchkeyError } from '../errors.js';
import type { UserRecord } from '../store/types.js';

/** What the claims function is told about the account. */
export interface ClaimsUser {
  id: string;
  email: string;
  role: string;
  emailVerified: boolean;
}

export type ClaimsFunction = (user: ClaimsUser) => Record<string, unknown> | Promise<Record<string, unknown>>;

/**
 * `claims` of `createLatchkey`: a function, or `{ names, value }` declaring the names the function
 * may return (checked at start-up; any other name returned is refused when a token is minted).
 */
export type ClaimsOption = ClaimsFunction | { names: readonly string[]; value: ClaimsFunction };

/**
 * Claims no embedder may set: the JWT registered claims (RFC 7519), Latchkey's own (`sid`,
 * `role`), how the session was authenticated (`amr`, `acr`, `auth_time`, RFC 9068), its sender
 * constraint (`cnf`, RFC 9449), and what OAuth verifiers read as authorisation (`scope`,
 * `client_id`, `azp`, `act`, `may_act`, RFC 8693) or as an ID token's (`nonce`).
 */
export const RESERVED_CLAIMS: readonly string[] = Object.freeze([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'sid',
  'role',
  'amr',
  'acr',
  'auth_time',
  'cnf',
  'scope',
  'client_id',
  'azp',
  'act',
  'may_act',
  'nonce',
]);

/** Serialised size above which the custom claims of one token are refused (tokens travel in headers). */
const MAX_CLAIMS_BYTES = 4096;
const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/;

function checkName(name: string): string | undefined {
  if (!NAME.test(name)) return 'is not a usable claim name (1–64 of letters, digits, _ . : -, not starting with a digit or punctuation)';
  if (RESERVED_CLAIMS.includes(name)) return 'is reserved: Latchkey issues it, or verifiers read it as authorisation';
  return undefined;
}

/**
 * Checks `option` once and returns what a token mint calls: the account's custom claims, checked
 * (a plain object of JSON values under allowed names, ≤ 4 KiB serialised), else `CLAIMS_INVALID`.
 * `undefined` when there are none.
 */
export function createClaimsResolver(option: ClaimsOption | undefined): ((user: UserRecord) => Promise<Record<string, unknown>>) | undefined {
  if (option === undefined) return undefined;
  let fn: ClaimsFunction;
  let allowed: ReadonlySet<string> | undefined;
  if (typeof option === 'function') fn = option;
  else if (option && typeof option === 'object' && typeof option.value === 'function' && Array.isArray(option.names)) {
    for (const name of option.names) {
      const problem = typeof name === 'string' ? checkName(name) : 'is not a string';
      if (problem) throw new ConfigError('claims.names', `${JSON.stringify(String(name)).slice(0, 70)} ${problem}`, 'format');
    }
    fn = option.value;
    allowed = new Set(option.names);
  } else {
    throw new ConfigError('claims', 'must be a function of the user, or { names, value }', 'type');
  }
  return async (user) => {
    const value: unknown = await fn({ id: user.id, email: user.email, role: user.role, emailVerified: user.emailVerifiedAt !== null });
    if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
      throw new LatchkeyError('CLAIMS_INVALID', 'The claims function must return a plain object.');
    }
    for (const name of Object.keys(value)) {
      const problem = checkName(name) ?? (allowed && !allowed.has(name) ? 'is not one of claims.names' : undefined);
      if (problem) throw new LatchkeyError('CLAIMS_INVALID', `Custom claim ${JSON.stringify(name.slice(0, 64))} ${problem}.`);
    }
    let json: string;
    try {
      json = JSON.stringify(value);
    } catch {
      throw new LatchkeyError('CLAIMS_INVALID', 'The custom claims are not JSON-serialisable.');
    }
    if (Buffer.byteLength(json) > MAX_CLAIMS_BYTES)
      throw new LatchkeyError('CLAIMS_INVALID', `The custom claims exceed ${MAX_CLAIMS_BYTES} bytes as JSON.`);
    // What the token carries is exactly what JSON keeps (no undefined, functions or class instances).
    return JSON.parse(json) as Record<string, unknown>;
  };
}
