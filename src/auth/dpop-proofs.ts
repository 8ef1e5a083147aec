/**
 * DPoP proofs at the auth endpoints (docs/dpop.md#bound-sessions): the edge hands over the
 * `DPoP` header with the method and `htu` of the request, and the flow checks it with the
 * proof verifier of `dpop/`. A sign-in with a valid proof binds its session to the proof's
 * key; a bound session's refresh and logout must prove that key.
 */
import { ApiError } from '../errors.js';
import type { DpopFailure, ProofVerifier } from '../dpop/proof.js';

/** The proof a request carried, and what it must have been made for. */
export interface DpopRequest {
  /** The `DPoP` header as received (`undefined`: none; several headers arrive joined, and are malformed). */
  proof: string | undefined;
  /** The request method. */
  method: string;
  /** The request's `htu`: the origin of the issuer (or of an allowed origin) + the path; any one of a list. */
  url: string | readonly string[];
}

/** `undefined`: the request carried no proof. */
export type ProofCheck = { ok: true; jkt: string } | { ok: false; reason: DpopFailure } | undefined;

/**
 * The answer of a refusal that is not the client's proof's fault: a replay cache that cannot
 * answer refuses the request with 503 `UNAVAILABLE` (it fails closed, and the client is not to
 * blame); a proof without the current server nonce gets 401 `USE_DPOP_NONCE`, the challenge of
 * RFC 9449 §8 (the edge adds the nonce to use; not audited: the client's retry is the real attempt).
 */
export function throwIfNotRefusal(reason: DpopFailure): void {
  if (reason === 'DPOP_REPLAY_CACHE_UNAVAILABLE') throw new ApiError('UNAVAILABLE');
  if (reason === 'DPOP_NONCE_REQUIRED') throw new ApiError('USE_DPOP_NONCE');
}

/**
 * Checks the proof of `request`, if it has one, optionally against the key `jkt` a session is
 * bound to. Throws for an unavailable replay cache or a missing nonce ({@link throwIfNotRefusal}).
 */
export async function checkProof(verify: ProofVerifier, request: DpopRequest | undefined, jkt?: string | null): Promise<ProofCheck> {
  if (request?.proof === undefined) return undefined;
  const result = await verify(request.proof, { method: request.method, url: request.url, jkt: jkt ?? undefined });
  if (!result.ok) throwIfNotRefusal(result.reason);
  return result.ok ? { ok: true, jkt: result.jkt } : result;
}
