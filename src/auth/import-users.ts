/**
 * Importing existing users (migration from a hand-rolled "Express + jsonwebtoken + bcrypt"
 * setup): one JSON object per line, `{"email", "passwordHash"?, "password"?, "role"?}`.
 *
 * - bcrypt (`$2a$`/`$2b$`/`$2y$`) and argon2id hashes are stored as they are; a bcrypt hash is
 *   verified at the user's next login and replaced by argon2id (see passwords.ts).
 * - A plain `password` is checked against the password policy and hashed with argon2id.
 * - The file is validated first, as a whole: if any line is invalid nothing is imported, and
 *   every problem is reported with its line number. Messages are fixed texts: they never
 *   contain a hash, a password or the line itself.
 * - E-mails that already exist are skipped (and reported), so an import can be re-run.
 */
import { randomUUID } from 'node:crypto';
import { ApiError } from '../errors.js';
import type { Store } from '../store/types.js';
import { checkEmail } from './email.js';
import { assertPasswordPolicy, hashPassword, type PasswordRule } from './passwords.js';

export type ImportProblemCode = 'INVALID_JSON' | 'VALIDATION_FAILED' | 'UNSUPPORTED_HASH' | 'WEAK_PASSWORD' | 'DUPLICATE_IN_FILE' | 'EMAIL_TAKEN';

export interface ImportProblem {
  /** 1-based line number in the file. */
  line: number;
  code: ImportProblemCode;
  message: string;
}

/** A validated line, ready to be stored. */
export interface ImportedUserLine {
  line: number;
  email: string;
  role: string;
  /** Exactly one of the two. */
  passwordHash?: string;
  password?: string;
}

export interface ImportSummary {
  imported: number;
  /** Lines whose e-mail already exists in the store. */
  skipped: ImportProblem[];
}

// Same rule as registration (auth/service.ts).
const MAX_LINE_LENGTH = 65_536;
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const ARGON2ID = /^\$argon2id\$v=19\$m=\d{1,7},t=\d{1,3},p=\d{1,3}\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;
const ROLE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

function problem(line: number, code: ImportProblemCode, message: string): ImportProblem {
  return { line, code, message };
}

/** Parses and validates the whole file. Nothing is written. */
export function parseUserImport(text: string, passwordRules: readonly PasswordRule[] = []): { users: ImportedUserLine[]; problems: ImportProblem[] } {
  const users: ImportedUserLine[] = [];
  const problems: ImportProblem[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const line = index + 1;
    const raw = lines[index]!.trim();
    if (raw === '') continue;
    if (raw.length > MAX_LINE_LENGTH) {
      problems.push(problem(line, 'VALIDATION_FAILED', `The line is longer than ${MAX_LINE_LENGTH} characters.`));
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push(problem(line, 'INVALID_JSON', 'The line is not valid JSON.'));
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(problem(line, 'INVALID_JSON', 'The line is not a JSON object.'));
      continue;
    }
    const { email, passwordHash, password, role = 'user' } = value as Record<string, unknown>;
    const checked = typeof email === 'string' ? checkEmail(email) : undefined;
    if (!checked?.ok) {
      problems.push(problem(line, 'VALIDATION_FAILED', `"email" is missing or not an e-mail address${checked ? `: ${checked.message}` : '.'}`));
      continue;
    }
    const normalized = checked.email;
    if (typeof role !== 'string' || !ROLE.test(role)) {
      problems.push(problem(line, 'VALIDATION_FAILED', '"role" must be a word of letters, digits, "_", ".", ":" or "-".'));
      continue;
    }
    if ((passwordHash === undefined) === (password === undefined)) {
      problems.push(problem(line, 'VALIDATION_FAILED', 'Exactly one of "passwordHash" and "password" is required.'));
      continue;
    }
    const entry: ImportedUserLine = { line, email: normalized, role };
    if (passwordHash !== undefined) {
      if (typeof passwordHash !== 'string' || !(BCRYPT.test(passwordHash) || ARGON2ID.test(passwordHash))) {
        problems.push(problem(line, 'UNSUPPORTED_HASH', '"passwordHash" is not a bcrypt ($2a$/$2b$/$2y$) or argon2id hash.'));
        continue;
      }
      entry.passwordHash = passwordHash;
    } else {
      if (typeof password !== 'string') {
        problems.push(problem(line, 'VALIDATION_FAILED', '"password" must be a string.'));
        continue;
      }
      try {
        entry.password = assertPasswordPolicy(password, passwordRules);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        problems.push(problem(line, 'WEAK_PASSWORD', 'The password does not meet the password policy.'));
        continue;
      }
    }
    const first = seen.get(normalized);
    if (first !== undefined) {
      problems.push(problem(line, 'DUPLICATE_IN_FILE', `The e-mail already appears on line ${first}.`));
      continue;
    }
    seen.set(normalized, line);
    users.push(entry);
  }
  return { users, problems };
}

/** Stores validated lines one by one; existing e-mails are skipped. */
export async function importUsers(store: Store, users: readonly ImportedUserLine[], now: () => number = Date.now): Promise<ImportSummary> {
  const summary: ImportSummary = { imported: 0, skipped: [] };
  for (const user of users) {
    const passwordHash = user.passwordHash ?? (await hashPassword(user.password!));
    try {
      await store.createUser({ id: randomUUID(), email: user.email, passwordHash, role: user.role, now: now() });
      summary.imported++;
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'EMAIL_TAKEN')) throw error;
      summary.skipped.push(problem(user.line, 'EMAIL_TAKEN', 'An account with this e-mail already exists; skipped.'));
    }
  }
  return summary;
}
