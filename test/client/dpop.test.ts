/**
 * The client's DPoP half in Node (WebCrypto, Request, Headers and fetch are the same Web APIs):
 * proofs made by our client code verify with jose (an independent JOSE implementation) and with
 * our server-side verifier; the fetch wrapper against a real HTTP server that checks proofs with
 * src/dpop — DPoP scheme and `ath` for bound tokens, Bearer kept for unbound ones, one retry on
 * `use_dpop_nonce`, `iat` on the server's clock. IndexedDB (the key store) is covered in Chromium
 * (test/browser/dpop.test.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { dpopFetch } from '../../src/client/dpop-fetch.js';
import { type DpopKey, createProof, generateDpopKeyPair, toDpopKey } from '../../src/client/dpop-proof.js';
import { MemoryReplayCache, accessTokenHash, createDpopNonces, createProofVerifier, jwkThumbprint } from '../../src/dpop/index.js';

let key: DpopKey;
let pair: CryptoKeyPair;
beforeAll(async () => {
  pair = await generateDpopKeyPair();
  key = await toDpopKey(pair);
});

describe('client proofs', () => {
  it('the private key is not extractable, the public JWK has no private member', async () => {
    expect(pair.privateKey.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('jwk', pair.privateKey)).rejects.toThrow();
    expect(Object.keys(key.publicJwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
  });

  it('verify with jose (EmbeddedJWK, typ dpop+jwt, ES256) and carry the request’s claims', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const proof = await createProof(key, { htm: 'POST', htu: 'https://auth.example.test/auth/refresh', iat, nonce: 'n-1', ath: 'h' });
    const { payload, protectedHeader } = await jose.jwtVerify(proof, jose.EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    expect(protectedHeader).toEqual({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk });
    expect(payload).toEqual({
      jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      htm: 'POST',
      htu: 'https://auth.example.test/auth/refresh',
      iat,
      nonce: 'n-1',
      ath: 'h',
    });
    expect(await jose.calculateJwkThumbprint(protectedHeader.jwk as jose.JWK)).toBe(jwkThumbprint(key.publicJwk as never));
  });

  it('every proof has its own jti', async () => {
    const claims = { htm: 'GET', htu: 'https://api.example/x', iat: Date.now() / 1000 };
    const jtis = await Promise.all(Array.from({ length: 20 }, async () => jose.decodeJwt(await createProof(key, claims)).jti));
    expect(new Set(jtis).size).toBe(20);
  });

  it('the access-token hash is the one the server computes', async () => {
    const { accessTokenHash: clientHash } = await import('../../src/client/dpop-proof.js');
    expect(await clientHash('a.b.c')).toBe(accessTokenHash('a.b.c'));
  });
});

/** A resource server that checks proofs with src/dpop, optionally demanding nonces and with its clock shifted. */
function resourceServer(options: { nonces?: boolean; clockOffsetMs?: number; jkt?: string }) {
  const offset = options.clockOffsetMs ?? 0;
  const now = () => Date.now() + offset;
  const nonces = options.nonces ? createDpopNonces({ secret: crypto.getRandomValues(new Uint8Array(32)), now }) : undefined;
  const verify = createProofVerifier({ replayCache: new MemoryReplayCache({ now }), nonces, now });
  const seen: { authorization: string | undefined; dpop: string | undefined; result: unknown }[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const authorization = req.headers.authorization;
    const token = /^(?:DPoP|Bearer) (\S+)$/.exec(authorization ?? '')?.[1];
    const bound = authorization?.startsWith('DPoP ') === true;
    const url = `http://${req.headers.host}${req.url}`;
    const result = await verify(req.headers.dpop, { method: req.method ?? '', url, accessToken: bound ? token : undefined, jkt: options.jkt });
    seen.push({ authorization, dpop: req.headers.dpop as string | undefined, result });
    const headers: Record<string, string> = { date: new Date(now()).toUTCString(), 'content-type': 'application/json' };
    if (nonces) headers['dpop-nonce'] = nonces.current();
    if (!result.ok && result.reason === 'DPOP_NONCE_REQUIRED') {
      res.writeHead(401, { ...headers, 'www-authenticate': 'DPoP error="use_dpop_nonce", algs="ES256"' }).end('{"error":"USE_DPOP_NONCE"}');
      return;
    }
    res.writeHead(result.ok ? 200 : 401, headers).end(JSON.stringify(result));
  };
  // A handler that throws fails the request (the client sees the reset), never silently.
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => res.destroy(error instanceof Error ? error : new Error(String(error))));
  });
  return { server, seen };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const tokenWith = (claims: Record<string, unknown>): string =>
  `${['{"alg":"ES256","typ":"at+jwt"}', JSON.stringify(claims)].map((part) => Buffer.from(part).toString('base64url')).join('.')}.sig`;

describe('dpopFetch against a server verifying proofs', () => {
  const servers: Server[] = [];
  afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));
  async function start(options: Parameters<typeof resourceServer>[0] = {}) {
    const made = resourceServer(options);
    servers.push(made.server);
    return {
      ...made,
      base: await listen(made.server),
      fetch: dpopFetch(
        (input, init) => fetch(input, init),
        async () => key,
      ),
    };
  }

  it('a sign-in request gets a proof for its method and URL (query ignored), its body intact', async () => {
    const { base, fetch: send, seen } = await start();
    const response = await send(`${base}/auth/login?next=x`, {
      method: 'POST',
      body: '{"email":"a"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(seen[0]).toMatchObject({ authorization: undefined, result: { ok: true, jkt: jwkThumbprint(key.publicJwk as never) } });
    const claims = jose.decodeJwt(seen[0]!.dpop!);
    expect(claims).toMatchObject({ htm: 'POST', htu: `${base}/auth/login` });
    expect(claims.ath).toBeUndefined();
  });

  it('a bound access token goes as DPoP with the ath of that token; an unbound one stays Bearer', async () => {
    const { base, fetch: send, seen } = await start();
    const bound = tokenWith({ sub: 'u', cnf: { jkt: 'x' } });
    const unbound = tokenWith({ sub: 'u' });
    expect((await send(`${base}/api/items`, { headers: { authorization: `Bearer ${bound}` } })).status).toBe(200);
    expect(seen[0]!.authorization).toBe(`DPoP ${bound}`);
    expect(jose.decodeJwt(seen[0]!.dpop!).ath).toBe(accessTokenHash(bound));
    await send(new Request(`${base}/api/items`, { headers: { authorization: `Bearer ${unbound}` } }));
    expect(seen[1]!.authorization).toBe(`Bearer ${unbound}`);
    expect(jose.decodeJwt(seen[1]!.dpop!).ath).toBeUndefined();
  });

  it('use_dpop_nonce: retried exactly once with the server’s nonce, body resent; later proofs carry it from the start', async () => {
    const { base, fetch: send, seen } = await start({ nonces: true });
    const response = await send(`${base}/auth/refresh`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(200);
    expect(seen.map((s) => (s.result as { ok: boolean; reason?: string }).reason ?? 'ok')).toEqual(['DPOP_NONCE_REQUIRED', 'ok']);
    await send(`${base}/auth/refresh`, { method: 'POST' });
    expect(seen).toHaveLength(3);
    expect((seen[2]!.result as { ok: boolean }).ok).toBe(true);
  });

  it('iat follows the server’s clock (10 minutes ahead here): the first refusal is retried once on that clock, later proofs use it at once', async () => {
    const { base, fetch: send, seen } = await start({ clockOffsetMs: 600_000 });
    const first = await send(`${base}/auth/login`, { method: 'POST', body: '{"a":1}' });
    expect(first.status).toBe(200);
    expect(seen.map((s) => s.result)).toEqual([{ ok: false, reason: 'DPOP_IAT_INVALID' }, expect.objectContaining({ ok: true })]);
    expect(Math.abs((jose.decodeJwt(seen[1]!.dpop!).iat as number) - (Date.now() + 600_000) / 1000)).toBeLessThan(3);
    await send(`${base}/auth/refresh`, { method: 'POST' });
    expect(seen).toHaveLength(3);
    expect((seen[2]!.result as { ok: boolean }).ok).toBe(true);
  });

  it('a refusal for another reason is not retried', async () => {
    const { base, fetch: send, seen } = await start({ jkt: 'the-thumbprint-of-another-key' });
    const response = await send(`${base}/auth/refresh`, { method: 'POST' });
    expect(response.status).toBe(401);
    expect(seen.map((s) => s.result)).toEqual([{ ok: false, reason: 'DPOP_KEY_MISMATCH' }]);
  });
});
