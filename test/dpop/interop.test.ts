/**
 * Interop with an independent implementation: proofs made by panva's `dpop` package (WebCrypto
 * keys, its own JWS code) are accepted by our verifier, for every algorithm it offers, with
 * `ath` and server nonces; a proof it made for another request is refused.
 */
import * as dpop from 'dpop';
import * as jose from 'jose';
import { describe, expect, it } from 'vitest';

import { MemoryReplayCache, createDpopNonces, createProofVerifier } from '../../src/dpop/index.js';

const HTU = 'https://auth.example.test/auth/refresh';
const ALGS: dpop.JWSAlgorithm[] = ['ES256', 'Ed25519', 'RS256', 'PS256'];

async function thumbprintOf(keyPair: dpop.KeyPair): Promise<string> {
  return jose.calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', keyPair.publicKey)) as jose.JWK);
}

describe.each(ALGS)('proofs by panva/dpop with %s', (alg) => {
  it('are accepted, bound to the key’s RFC 7638 thumbprint', async () => {
    const keyPair = await dpop.generateKeyPair(alg);
    const verify = createProofVerifier({ replayCache: new MemoryReplayCache() });
    const proof = await dpop.generateProof(keyPair, HTU, 'POST');
    const result = await verify(proof, { method: 'POST', url: HTU });
    expect(result).toEqual({ ok: true, jkt: await thumbprintOf(keyPair), jti: expect.any(String) });
    // The very same proof again is a replay.
    expect(await verify(proof, { method: 'POST', url: HTU })).toEqual({ ok: false, reason: 'DPOP_REPLAYED' });
  });

  it('with ath on a resource request, and a server nonce', async () => {
    const keyPair = await dpop.generateKeyPair(alg);
    const nonces = createDpopNonces({ secret: crypto.getRandomValues(new Uint8Array(32)) });
    const verify = createProofVerifier({ replayCache: new MemoryReplayCache(), nonces });
    const url = 'https://api.example.test/items';
    const token = 'header.payload.signature';
    const withoutNonce = await dpop.generateProof(keyPair, url, 'GET', undefined, token);
    expect(await verify(withoutNonce, { method: 'GET', url, accessToken: token })).toEqual({ ok: false, reason: 'DPOP_NONCE_REQUIRED' });
    const proof = await dpop.generateProof(keyPair, url, 'GET', nonces.current(), token);
    const jkt = await thumbprintOf(keyPair);
    expect(await verify(proof, { method: 'GET', url, accessToken: token, jkt })).toMatchObject({ ok: true, jkt });
  });

  it('made for another method, URL or token are refused', async () => {
    const keyPair = await dpop.generateKeyPair(alg);
    const verify = createProofVerifier({ replayCache: new MemoryReplayCache() });
    const refresh = { method: 'POST', url: HTU };
    expect(await verify(await dpop.generateProof(keyPair, HTU, 'GET'), refresh)).toEqual({ ok: false, reason: 'DPOP_HTM_MISMATCH' });
    expect(await verify(await dpop.generateProof(keyPair, 'https://auth.example.test/auth/logout', 'POST'), refresh)).toEqual({
      ok: false,
      reason: 'DPOP_HTU_MISMATCH',
    });
    const other = await dpop.generateProof(keyPair, HTU, 'POST', undefined, 'another-token');
    expect(await verify(other, { ...refresh, accessToken: 'the-token' })).toEqual({ ok: false, reason: 'DPOP_ATH_MISMATCH' });
  });
});
