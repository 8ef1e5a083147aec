/**
 * `npm run size`: the browser client, bundled and minified as an app ships it, stays under
 * 4 KiB (4,096 B) gzipped — and the bundle itself shows the client's browser-only promises: no Node
 * built-ins, no Buffer, no storage API that could hold a token.
 */
import { describe, it, expect } from 'vitest';
import { measureClient, BUDGET_BYTES, DPOP_CLIENT_ENTRY, PASSKEYS_CLIENT_ENTRY } from '../../scripts/size.mjs';

describe('latchkey/client bundle', () => {
  it(`is under ${BUDGET_BYTES} B minified + gzipped`, async () => {
    const { gzipped, minified, code } = await measureClient();
    expect(code).toContain('createAuthClient');
    expect(minified).toBeGreaterThan(gzipped);
    expect(gzipped).toBeLessThan(BUDGET_BYTES);
  });

  it('uses Web APIs only and no storage area', async () => {
    const { code } = await measureClient();
    for (const forbidden of ['node:', 'Buffer.', 'require(', 'process.', 'localStorage', 'sessionStorage', 'indexedDB', 'document.cookie']) {
      expect(code, forbidden).not.toContain(forbidden);
    }
  });
});

describe('latchkey/client/dpop bundle', () => {
  it('holds the DPoP code the base client does not: WebCrypto signing and the IndexedDB key, nothing of Node', async () => {
    const base = await measureClient();
    const { code, gzipped } = await measureClient(DPOP_CLIENT_ENTRY);
    expect(code).toContain('indexedDB');
    expect(code).toContain('dpop+jwt');
    expect(base.code).not.toContain('dpop+jwt');
    expect(gzipped).toBeGreaterThan(base.gzipped);
    for (const forbidden of ['node:', 'Buffer.', 'require(', 'process.', 'localStorage', 'sessionStorage', 'document.cookie']) {
      expect(code, forbidden).not.toContain(forbidden);
    }
  });
});

describe('latchkey/client/passkeys bundle', () => {
  it('holds the WebAuthn glue the base client does not, nothing of Node', async () => {
    const base = await measureClient();
    const { code } = await measureClient(PASSKEYS_CLIENT_ENTRY);
    expect(code).toContain('navigator.credentials');
    expect(code).toContain('passkeys/login/verify');
    expect(base.code).not.toContain('navigator.credentials');
    for (const forbidden of ['node:', 'Buffer.', 'require(', 'process.', 'localStorage', 'sessionStorage', 'document.cookie']) {
      expect(code, forbidden).not.toContain(forbidden);
    }
  });
});
