/**
 * `npm run size`: the browser client, bundled and minified as an app ships it, stays under
 * 4 KiB (4,096 B) gzipped — and the bundle itself shows the client's browser-only promises: no Node
 * built-ins, no Buffer, no storage API that could hold a token.
 */
import { describe, it, expect } from 'vitest';
import { measureClient, BUDGET_BYTES } from '../../scripts/size.mjs';

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
