/**
 * The keys derived from the master secret are part of every deployment's state: refresh tokens
 * carry the MAC, the database holds keys sealed under the encryption key, Redis holds counters
 * named by the account HMAC. A derivation that changed would log everyone out, make the signing
 * keys unreadable or reset the rate-limit counters; these tests pin each one.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveKeys } from '../../src/keys/master-secret.js';
import { RateLimiter } from '../../src/auth/rate-limit.js';
import { loadConfig } from '../../src/config/config.js';
import { MemoryCounterStore } from '../../src/ratelimit/memory.js';

const secret = new Uint8Array(32).fill(7);
const hkdf = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.from('latchkey/v1'), info, 32));

describe('deriveKeys', () => {
  it('derives each key with HKDF-SHA256, salt latchkey/v1, one info string per purpose', () => {
    const keys = deriveKeys(secret);
    expect(keys.refreshMac).toEqual(hkdf('refresh-token-mac'));
    expect(keys.keyEncryption).toEqual(hkdf('signing-key-encryption'));
    expect(keys.rateLimitAccount).toEqual(hkdf('rate-limit-account-key'));
    expect(keys.linkMac).toEqual(hkdf('link-token-mac'));
    expect(keys.mailSeal).toEqual(hkdf('mail-seal'));
    expect(keys.dpopNonce).toEqual(hkdf('dpop-nonce'));
    expect(keys.mfaSeal).toEqual(hkdf('mfa-seal'));
    expect(keys.mfaMac).toEqual(hkdf('mfa-mac'));
    expect(keys.oauthFlowSeal).toEqual(hkdf('oauth-flow-seal'));
    const all = Object.values(keys).map((key) => key.toString('hex'));
    expect(new Set(all).size).toBe(all.length);
  });

  it('gives the rate limiter the account key it derived itself before (Redis counters carry over)', () => {
    const limiter = new RateLimiter({
      limits: loadConfig({}).rateLimits,
      store: new MemoryCounterStore(),
      accountKey: deriveKeys(secret).rateLimitAccount,
    });
    // Computed by the rate limiter's own HKDF call (src/auth/rate-limit.ts) before the key moved to deriveKeys.
    expect(limiter.accountHash('alice@example.com')).toBe('7750485fafc2d042f789ec068263b497');
    const expected = createHmac('sha256', hkdf('rate-limit-account-key')).update('alice@example.com').digest('hex').slice(0, 32);
    expect(limiter.accountHash('alice@example.com')).toBe(expected);
  });
});
