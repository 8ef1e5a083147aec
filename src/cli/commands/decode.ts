/**
 * `latchkey decode <token|->` — decodes and lints a JWT locally and prints
 * `{header, payload, signature, warnings}` as JSON (CONTRACT §5). Nothing is fetched.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EXIT, type CliIo, type Command } from '../io.js';
import { buildReport, decodeToken, guessCommonSecret, lintToken, renderReport, warning, type LintOptions, type TimeInfo } from '../../decoder/index.js';

export const DECODE_USAGE = `usage: latchkey decode <token|-> [--pretty] [--typ T] [--max-lifetime SECONDS] [--no-guess]

Decodes and lints a JWT without sending it anywhere. "-" reads the token from stdin.
  --pretty              indented JSON, and the time claims in words on stderr
  --typ T               warn unless the header typ is T (e.g. at+jwt)
  --max-lifetime S      warn when exp − iat exceeds S seconds (default 86400)
  --no-guess            skip the offline check of HS* tokens against the common-secrets list
Exit codes: 0 decoded, 2 usage error, 3 malformed token.
`;

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

/** The token argument: a literal, or `-` for all of stdin. */
export async function readTokenArgument(arg: string, io: CliIo): Promise<string> {
  return arg === '-' ? io.readStdin() : arg;
}

export function parseSeconds(value: string | undefined, name: string): number | string | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n)) return `${name} must be a number of seconds`;
  return n;
}

function describeTimeLine(t: TimeInfo): string {
  if (t.seconds === undefined) return `${t.claim.padEnd(9)} ${t.problem === 'NOT_NUMERIC' ? 'not a number' : 'out of range'}`;
  const ms = t.problem === 'MILLISECONDS' ? ` — looks like milliseconds (${t.asMillisecondsIso ?? '?'})` : '';
  return `${t.claim.padEnd(9)} ${t.relative} · ${t.utc} · local ${t.local} · ${t.iso}${ms}`;
}

export const decode: Command = async (args, io) => {
  const parsed = parseCommandArgs(args, {
    pretty: { type: 'boolean' },
    typ: { type: 'string' },
    'max-lifetime': { type: 'string' },
    'no-guess': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (!parsed.ok) {
    io.stderr(`latchkey decode: ${parsed.message}\n${DECODE_USAGE}`);
    return EXIT.USAGE;
  }
  if (parsed.values.help) {
    io.stdout(DECODE_USAGE);
    return EXIT.OK;
  }
  if (parsed.positionals.length !== 1) {
    io.stderr(`latchkey decode: expected exactly one token argument\n${DECODE_USAGE}`);
    return EXIT.USAGE;
  }
  const maxLifetime = parseSeconds(parsed.values['max-lifetime'] as string | undefined, '--max-lifetime');
  if (typeof maxLifetime === 'string') {
    io.stderr(`latchkey decode: ${maxLifetime}\n`);
    return EXIT.USAGE;
  }
  const input = await readTokenArgument(parsed.positionals[0]!, io);
  const decoded = decodeToken(input);
  if (!decoded.ok) {
    io.stdout(JSON.stringify({ error: { code: decoded.code, message: decoded.message, ...(decoded.part ? { part: decoded.part } : {}) } }) + '\n');
    io.stderr(`latchkey decode: malformed token (${decoded.code}): ${decoded.message}\n`);
    return EXIT.MALFORMED;
  }
  const options: LintOptions = { now: Date.now() };
  if (maxLifetime !== undefined) options.maxLifetimeSeconds = maxLifetime;
  if (typeof parsed.values.typ === 'string') options.expectedTyp = parsed.values.typ;
  const { warnings, times } = lintToken(decoded, options);
  if (decoded.kind === 'JWS' && !parsed.values['no-guess']) {
    const guess = await guessCommonSecret(decoded);
    if (guess.found) warnings.unshift(warning('HMAC_SECRET_GUESSED', `It is entry ${guess.index + 1} of data-files/common-jwt-secrets.txt.`, '/signature'));
  }
  io.stdout(renderReport(buildReport(decoded, warnings), parsed.values.pretty === true) + '\n');
  if (parsed.values.pretty) for (const t of times) io.stderr(describeTimeLine(t) + '\n');
  return EXIT.OK;
};
