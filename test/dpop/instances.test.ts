/**
 * Two Latchkey instances sharing one Redis (LATCHKEY_REDIS_URL): a DPoP proof accepted by
 * one is refused by the other (docs/dpop.md#bound-sessions). Each instance has its own
 * database here, so only the shared replay cache can refuse the copy.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PASSWORD } from '../http/contract.js';
import { makeProof, proofKey } from './helpers.js';

const ISSUER = 'http://localhost:3000';
const BODY = { 'x-latchkey-transport': 'body' };

describe('DPoP replay cache shared through Redis', () => {
  let a: TestServer;
  let b: TestServer;
  const prefix = `latchkey-test-${randomBytes(6).toString('hex')}:`;
  const email = `dpop-redis-${Date.now()}@example.com`;

  beforeAll(async () => {
    const options = { redisUrl: 'redis://127.0.0.1:6379', rateLimits: { ...loadConfig({}).rateLimits, enabled: false, redisPrefix: prefix } };
    a = await startTestServer(options);
    b = await startTestServer(options);
    for (const t of [a, b]) expect((await t.client.post('/auth/register', { body: { email, password: PASSWORD } })).status).toBe(201);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('a proof used on instance A is refused on instance B, and B accepts a fresh one', async () => {
    const key = proofKey('ES256');
    const proof = makeProof(key, 'POST', `${ISSUER}/auth/login`, Date.now() / 1000);
    const login = (t: TestServer, dpop: string) => t.client.post('/auth/login', { body: { email, password: PASSWORD }, headers: { ...BODY, dpop } });
    const onA = await login(a, proof);
    expect({ status: onA.status, tokenType: onA.body.tokenType }).toEqual({ status: 200, tokenType: 'DPoP' });
    const onB = await login(b, proof);
    expect({ status: onB.status, error: onB.body.error }).toEqual({ status: 401, error: 'INVALID_DPOP_PROOF' });
    const fresh = await login(b, makeProof(key, 'POST', `${ISSUER}/auth/login`, Date.now() / 1000));
    expect(fresh.status).toBe(200);
  });
});
