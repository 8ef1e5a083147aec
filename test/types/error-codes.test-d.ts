/**
 * Compile-time checks of the error codes (run by `npm run typecheck`, not by vitest: nothing
 * here executes, so the browser client carries no bytes for them). A code added to the server's
 * contract and not to the client's `AuthErrorCode`, or the reverse, fails the typecheck.
 */
import type { AuthErrorCode } from '../../src/client/errors.js';
import type { ApiError, ErrorCode, LatchkeyError, LatchkeyErrorCode } from '../../src/errors.js';

/** `true` when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

/** The client meets exactly the server's HTTP codes, and adds only its own NETWORK_ERROR. */
export type ClientCodesAreTheServers = Assert<Equal<Exclude<AuthErrorCode, 'NETWORK_ERROR'>, ErrorCode>>;
export type NetworkErrorIsTheClientsOwn = Assert<Equal<Extract<AuthErrorCode, 'NETWORK_ERROR'>, 'NETWORK_ERROR'>>;
export type NetworkErrorIsNotAServerCode = Assert<Equal<Extract<LatchkeyErrorCode, 'NETWORK_ERROR'>, never>>;

/** `code` is typed: an ApiError carries a contract code, any LatchkeyError one of the union. */
export type ApiErrorCodeIsTheContract = Assert<Equal<ApiError['code'], ErrorCode>>;
export type LatchkeyErrorCodeIsTheUnion = Assert<Equal<LatchkeyError['code'], LatchkeyErrorCode>>;
export type TheUnionIsClosed = Assert<Equal<Extract<LatchkeyErrorCode, 'NOT_A_CODE'>, never>>;
