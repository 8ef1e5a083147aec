/**
 * DPoP as a `fetch` wrapper around the client's requests: every request gets a fresh proof
 * in a `DPoP` header (sign-in, refresh and sign-out bind and prove the session; app requests
 * prove the access token); a bound access token travels as `Authorization: DPoP …` with the
 * proof's `ath`, an unbound one stays `Bearer`. A `401` with `use_dpop_nonce` is retried once
 * with the server's new `DPoP-Nonce`; the latest nonce goes into every later proof.
 *
 * `iat` follows the server's clock as its `Date` header tells it (±1 s), so a client whose
 * clock is minutes off still makes proofs inside the server's ±60 s window (its very first
 * request is retried once when the answer shows the clocks apart by more than 30 s).
 */
import { type DpopKey, accessTokenHash, createProof } from './dpop-proof.js';

/** Does this access token carry a key binding (`cnf.jkt`)? Read from its payload, unverified: only the server decides. */
function isBound(token: string): boolean {
  try {
    const payload = (token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/');
    return typeof JSON.parse(atob(payload))?.cnf?.jkt === 'string';
  } catch {
    return false;
  }
}

/** Wraps `inner` so that every request it sends carries a proof signed with the key `key()` resolves to. */
export function dpopFetch(inner: typeof fetch, key: () => Promise<DpopKey>): typeof fetch {
  let nonce: string | undefined;
  let skewMs = 0;
  let lastToken = '';
  let lastBound = false;

  async function send(request: Request, token: string | undefined): Promise<Response> {
    const url = new URL(request.url);
    const proof = await createProof(await key(), {
      htm: request.method,
      htu: url.origin + url.pathname,
      iat: (Date.now() + skewMs) / 1000,
      ath: token === undefined ? undefined : await accessTokenHash(token),
      nonce,
    });
    const headers = new Headers(request.headers);
    headers.set('dpop', proof);
    if (token !== undefined) headers.set('authorization', `DPoP ${token}`);
    const response = await inner(new Request(request, { headers }));
    // `Date` has whole seconds: its middle is the best guess of the server's clock.
    const date = Date.parse(response.headers.get('date') ?? '');
    if (date > 0) skewMs = date + 500 - Date.now();
    nonce = response.headers.get('dpop-nonce') ?? nonce;
    return response;
  }

  return async (input, init) => {
    const request = new Request(input, init);
    const bearer = /^Bearer (\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
    if (bearer !== undefined && bearer !== lastToken) {
      lastToken = bearer;
      lastBound = isBound(bearer);
    }
    const token = bearer !== undefined && lastBound ? bearer : undefined;
    const retry = request.clone();
    const [usedNonce, usedSkew] = [nonce, skewMs];
    const response = await send(request, token);
    if (response.status !== 401) return response;
    // Once, never more: for a new nonce the server asked for, or when the proof's `iat` was made
    // on a clock the server's `Date` shows to be far off.
    const newNonce = nonce !== usedNonce && /error="use_dpop_nonce"/.test(response.headers.get('www-authenticate') ?? '');
    return newNonce || Math.abs(skewMs - usedSkew) > 30_000 ? send(retry, token) : response;
  };
}
