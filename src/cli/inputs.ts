/**
 * Argument and input helpers shared by the CLI commands: strict argv parsing, second counts,
 * and reading a token or key from a literal, `-` (stdin) or a file — never echoing the content.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { CliIo } from './io.js';

/** A bad flag, an unreadable file: the command prints the message and exits 2. */
export class CliUsageError extends Error {}

/** Largest key, secret or JWKS file read. */
export const MAX_KEY_BYTES = 1024 * 1024;
/** Largest token file read (far beyond any real token; the decoder lints huge ones). */
const MAX_TOKEN_BYTES = 16 * 1024 * 1024;

/** Parses argv; a usage error is returned as a message instead of throwing. */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
): { ok: true; values: Record<string, string | boolean | undefined>; positionals: string[] } | { ok: false; message: string } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { ok: true, values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** A non-negative number of seconds, `undefined` when absent, or an error message. */
export function parseSeconds(value: string | undefined, name: string): number | string | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) return `${name} must be a number of seconds`;
  return n;
}

/**
 * Reads a file named on the command line (relative to the working directory), or stdin for `-`.
 * Errors name the path and the errno code only, never the content.
 */
export async function readInputFile(path: string, io: CliIo, maxBytes = MAX_KEY_BYTES): Promise<string> {
  if (path === '-') return io.readStdin();
  let text: string;
  try {
    text = await readFile(isAbsolute(path) ? path : resolve(io.cwd, path), 'utf8');
  } catch (error) {
    throw new CliUsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (text.length > maxBytes) throw new CliUsageError(`${path} is larger than ${maxBytes / (1024 * 1024)} MiB`);
  return text;
}

/**
 * The token argument: `-` for all of stdin, `@path` for a file (keeps tokens out of shell history
 * and `ps`), otherwise the literal token.
 */
export async function readTokenArgument(arg: string, io: CliIo): Promise<string> {
  if (arg === '-') return io.readStdin();
  if (arg.startsWith('@') && arg.length > 1) return readInputFile(arg.slice(1), io, MAX_TOKEN_BYTES);
  return arg;
}
