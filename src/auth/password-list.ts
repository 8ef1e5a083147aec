/**
 * The common-password rule (NIST SP 800-63B §5.1.1.2): a password found in the shipped list
 * of common passwords is refused, compared after NFC normalisation and lower-casing.
 *
 * The list is `data-files/common-passwords.txt` (17,950 entries from the zxcvbn list; source
 * and licence beside it). It is read once, on first use, into a `Set`.
 */
import { readFileSync } from 'node:fs';
import type { PasswordRule } from './passwords.js';

/** From `src/auth/` and from `dist/auth/` alike, the package root is two levels up. */
const LIST_URL = new URL('../../data-files/common-passwords.txt', import.meta.url);

let list: ReadonlySet<string> | undefined;

/** Loads (once) and returns the common-password set. Throws if the data file is missing. */
export function commonPasswords(): ReadonlySet<string> {
  if (!list) {
    const entries = readFileSync(LIST_URL, 'utf8')
      .split('\n')
      .filter((line) => line.length > 0);
    list = new Set(entries);
  }
  return list;
}

/** True when the (NFC-normalised) password is in the common-password list, in any case. */
export function isCommonPassword(normalized: string): boolean {
  return commonPasswords().has(normalized.toLowerCase());
}

/** The default {@link PasswordRule} of `createLatchkey`. */
export const commonPasswordRule: PasswordRule = (normalized) =>
  isCommonPassword(normalized) ? 'This password is too common; choose another one.' : undefined;
