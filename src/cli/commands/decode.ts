/**
 * `latchkey decode <token|-|@file>` — decodes and lints a JWT locally and prints
 * `{header, payload, signature, times, warnings}` as JSON (docs/decoder.md). Nothing is fetched.
 */
import { EXIT, type Command } from '../io.js';
import { CliUsageError, parseCommandArgs, parseSeconds, readTokenArgument } from '../inputs.js';
import {
  buildReport,
  decodeToken,
  guessCommonSecret,
  lintToken,
  renderReport,
  warning,
  type LintOptions,
  type TimeInfo,
} from '../../decoder/index.js';

export const DECODE_USAGE = `usage: latchkey decode <token|-|@file> [--pretty] [--typ T] [--max-lifetime SECONDS] [--no-guess]

Decodes and lints a JWT without sending it anywhere. "-" reads the token from stdin,
"@file" from a file (either keeps the token out of shell history).
Prints {header, payload, signature, times, warnings} as JSON.
  --pretty              indented JSON, and the time claims in words on stderr
  --typ T               warn unless the header typ is T (e.g. at+jwt)
  --max-lifetime S      warn when exp − iat exceeds S seconds (default 86400)
  --no-guess            skip the offline check of HS* tokens against the common-secrets list
Exit codes: 0 decoded, 2 usage error, 3 malformed token.
`;

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
  let input: string;
  try {
    input = await readTokenArgument(parsed.positionals[0]!, io);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    io.stderr(`latchkey decode: ${error.message}\n`);
    return EXIT.USAGE;
  }
  const decoded = decodeToken(input);
  if (!decoded.ok) {
    io.stdout(`${JSON.stringify({ error: { code: decoded.code, message: decoded.message, ...(decoded.part ? { part: decoded.part } : {}) } })}\n`);
    io.stderr(`latchkey decode: malformed token (${decoded.code}): ${decoded.message}\n`);
    return EXIT.MALFORMED;
  }
  const options: LintOptions = { now: Date.now() };
  if (maxLifetime !== undefined) options.maxLifetimeSeconds = maxLifetime;
  if (typeof parsed.values.typ === 'string') options.expectedTyp = parsed.values.typ;
  const { warnings, times } = lintToken(decoded, options);
  if (decoded.kind === 'JWS' && !parsed.values['no-guess']) {
    const guess = await guessCommonSecret(decoded);
    if (guess.found)
      warnings.unshift(warning('HMAC_SECRET_GUESSED', `It is entry ${guess.index + 1} of data-files/common-jwt-secrets.txt.`, '/signature'));
  }
  io.stdout(`${renderReport(buildReport(decoded, warnings, times), parsed.values.pretty === true)}\n`);
  if (parsed.values.pretty) for (const t of times) io.stderr(`${describeTimeLine(t)}\n`);
  return EXIT.OK;
};
