/** Errors are a contract: every code in the table is documented, with its status. */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, OTHER_ERROR_CODES, type LatchkeyErrorCode } from '../../src/errors.js';
import { JWT_ERROR_MESSAGES } from '../../src/jwt/errors.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

describe('docs/errors.md', () => {
  it.each(Object.entries(ERROR_CODES))('documents %s with its status', (code, { status }) => {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
    expect(row, `no row for ${code}`).toBeDefined();
    expect(row).toContain(`| ${status} |`);
  });

  // Every member of LatchkeyErrorCode, at run time: the HTTP table, the other codes and the JWS core's
  // (test/types/error-codes.test-d.ts checks at compile time that `code` is this union).
  const everyCode: readonly LatchkeyErrorCode[] = [
    ...(Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]),
    ...OTHER_ERROR_CODES,
    ...(Object.keys(JWT_ERROR_MESSAGES) as (keyof typeof JWT_ERROR_MESSAGES)[]),
  ];
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);

  it.each(everyCode)('has a row for %s, a code a user can see', (code) => {
    expect(rows, `no row for ${code}`).toContain(code);
  });

  it("has a row for no code outside the union but the client's own NETWORK_ERROR", () => {
    expect(rows.filter((code) => !everyCode.includes(code as LatchkeyErrorCode))).toEqual(['NETWORK_ERROR']);
  });

  it('documents no code that does not exist', () => {
    const documented = [...doc.split('## Codes that are not HTTP answers')[0]!.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});
