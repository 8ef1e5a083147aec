import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { commonSecrets, COMMON_SECRETS_COUNT, isCommonSecret } from '../../src/decoder/index.js';

const text = readFileSync(new URL('../../data-files/common-jwt-secrets.txt', import.meta.url), 'utf8');

describe('common-secrets data', () => {
  it('ships at least 1,000 entries, unchanged from the documented source', () => {
    const notes = readFileSync(new URL('../../data-files/LICENSE-common-jwt-secrets.md', import.meta.url), 'utf8');
    const sha = createHash('sha256').update(text).digest('hex');
    expect(notes).toContain(sha);
    expect(notes).toMatch(/MIT License/);
    expect(COMMON_SECRETS_COUNT).toBeGreaterThanOrEqual(1000);
  });
  it('the embedded module matches data-files/ (regenerate: node data-files/build-common-secrets.mjs)', () => {
    expect(commonSecrets()).toEqual(text.split(/\r?\n/).filter((l) => l.length > 0));
    expect(commonSecrets().length).toBe(COMMON_SECRETS_COUNT);
    expect(isCommonSecret('secret')).toBe(true);
    expect(isCommonSecret('Tr0ub4dor&3-but-much-longer-and-random')).toBe(false);
  });
});
