/**
 * `latchkey verify <token|-|@file> (--secret-file F | --key PEM_FILE | --jwk FILE | --jwks FILE_OR_URL)`
 * — checks the signature with a key the user names (docs/decoder.md). Secrets are never argv values.
 * The only network access anywhere in the decoder: `--jwks https://…` given explicitly here.
 */
import { EXIT, type Command } from '../io.js';
import { CliUsageError, MAX_KEY_BYTES, parseCommandArgs, parseSeconds, readInputFile, readTokenArgument } from '../inputs.js';
import { decodeToken, isJwsAlgorithm, verifyToken, type JwsAlgorithm, type KeyInput, type SecretEncoding } from '../../decoder/index.js';

export const VERIFY_USAGE = `usage: latchkey verify <token|-|@file> (--secret-file F | --key PEM_FILE | --jwk FILE | --jwks FILE_OR_URL)
                       [--alg ALG[,ALG…]] [--secret-encoding utf8|base64|base64url|hex]
                       [--clock-tolerance SECONDS] [--json]

Verifies a JWT signature locally. "-" reads the token (or, for --secret-file, the secret) from stdin,
"@file" reads the token from a file.
Secrets are never taken from the command line. The algorithm comes from the key (and --alg),
never from the token header alone; keys embedded in the token (jwk, x5c, jku, x5u) are ignored.
--jwks may be an https:// URL: fetched once, with a 5 s timeout; nothing else is ever fetched.
Exit codes: 0 valid, 1 key could not be fetched, 2 usage error (bad flags, unreadable key),
3 malformed token, 4 bad signature (or alg/kid not matching the key), 5 expired or not yet valid.
`;

const FETCH_TIMEOUT_MS = 5_000;

class FetchError extends Error {}

function parseJsonFile(text: string, name: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliUsageError(`${name} is not valid JSON`);
  }
}

async function fetchJwks(url: URL, timeoutMs: number): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  } catch (error) {
    const reason = error instanceof Error && error.name === 'TimeoutError' ? `timed out after ${timeoutMs / 1000} s` : 'request failed';
    throw new FetchError(`could not fetch the JWKS from ${url.origin}: ${reason}`);
  }
  if (!response.ok) throw new FetchError(`could not fetch the JWKS from ${url.origin}: HTTP ${response.status}`);
  const text = await response.text();
  if (text.length > MAX_KEY_BYTES) throw new FetchError('the JWKS is larger than 1 MiB');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new FetchError('the fetched JWKS is not valid JSON');
  }
}

const ENCODINGS: readonly SecretEncoding[] = ['utf8', 'base64', 'base64url', 'hex'];

export const verify: Command = async (args, io) => {
  if (args.some((a) => a === '--secret' || a.startsWith('--secret='))) {
    io.stderr(
      'latchkey verify: secrets are never taken from the command line (they would land in shell history and ps); use --secret-file FILE or --secret-file - for stdin\n',
    );
    return EXIT.USAGE;
  }
  const parsed = parseCommandArgs(args, {
    'secret-file': { type: 'string' },
    key: { type: 'string' },
    jwk: { type: 'string' },
    jwks: { type: 'string' },
    alg: { type: 'string' },
    'secret-encoding': { type: 'string' },
    'clock-tolerance': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (!parsed.ok) {
    io.stderr(`latchkey verify: ${parsed.message}\n${VERIFY_USAGE}`);
    return EXIT.USAGE;
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout(VERIFY_USAGE);
    return EXIT.OK;
  }
  const usage = (message: string): number => {
    io.stderr(`latchkey verify: ${message}\n${VERIFY_USAGE}`);
    return EXIT.USAGE;
  };
  if (parsed.positionals.length !== 1) return usage('expected exactly one token argument');
  const sources = (['secret-file', 'key', 'jwk', 'jwks'] as const).filter((k) => typeof v[k] === 'string');
  if (sources.length !== 1) return usage('give exactly one of --secret-file, --key, --jwk, --jwks');
  const source = sources[0]!;
  const sourceValue = v[source] as string;
  const tokenArg = parsed.positionals[0]!;
  if (tokenArg === '-' && sourceValue === '-') return usage('the token and the key cannot both come from stdin');
  const encoding = (v['secret-encoding'] as string | undefined) ?? 'utf8';
  if (!ENCODINGS.includes(encoding as SecretEncoding)) return usage('--secret-encoding must be utf8, base64, base64url or hex');
  if (v['secret-encoding'] !== undefined && source !== 'secret-file') return usage('--secret-encoding applies to --secret-file only');
  let algorithms: JwsAlgorithm[] | undefined;
  if (typeof v.alg === 'string') {
    const list = v.alg
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    const bad = list.find((a) => !isJwsAlgorithm(a));
    if (bad !== undefined || list.length === 0) return usage(`--alg: unknown algorithm ${JSON.stringify(bad ?? '')}`);
    algorithms = list as JwsAlgorithm[];
  }
  const tolerance = parseSeconds(v['clock-tolerance'] as string | undefined, '--clock-tolerance');
  if (typeof tolerance === 'string') return usage(tolerance);

  let keyInput: KeyInput;
  try {
    if (source === 'secret-file') {
      const secret = (await readInputFile(sourceValue, io)).replace(/\r?\n$/, '');
      keyInput = { type: 'secret', secret, encoding: encoding as SecretEncoding };
    } else if (source === 'key') {
      keyInput = { type: 'pem', pem: await readInputFile(sourceValue, io) };
    } else if (source === 'jwk') {
      const jwk = parseJsonFile(await readInputFile(sourceValue, io), sourceValue);
      keyInput = jwk && typeof jwk === 'object' && 'keys' in jwk ? { type: 'jwks', jwks: jwk } : { type: 'jwk', jwk };
    } else {
      let url: URL | undefined;
      if (/^https?:\/\//i.test(sourceValue)) url = new URL(sourceValue);
      const timeoutMs = Number(io.env.LATCHKEY_JWKS_TIMEOUT_MS) > 0 ? Number(io.env.LATCHKEY_JWKS_TIMEOUT_MS) : FETCH_TIMEOUT_MS;
      keyInput = { type: 'jwks', jwks: url ? await fetchJwks(url, timeoutMs) : parseJsonFile(await readInputFile(sourceValue, io), sourceValue) };
    }
  } catch (error) {
    if (error instanceof FetchError) {
      io.stderr(`latchkey verify: ${error.message}\n`);
      return EXIT.FAILURE;
    }
    if (error instanceof CliUsageError || error instanceof TypeError) return usage(error.message);
    throw error;
  }

  let tokenText: string;
  try {
    tokenText = await readTokenArgument(tokenArg, io);
  } catch (error) {
    if (error instanceof CliUsageError) return usage(error.message);
    throw error;
  }
  const decoded = decodeToken(tokenText);
  const options: { algorithms?: JwsAlgorithm[]; clockToleranceSeconds?: number; now: number } = { now: Date.now() };
  if (algorithms) options.algorithms = algorithms;
  if (tolerance !== undefined) options.clockToleranceSeconds = tolerance;
  const r = await verifyToken(decoded, keyInput, options);

  let code: number;
  if (r.code === 'MALFORMED' || r.code === 'JWE_NOT_SUPPORTED') code = EXIT.MALFORMED;
  else if (r.code === 'KEY_EMPTY' || r.code === 'KEY_INVALID' || r.code === 'KEY_UNSUPPORTED' || r.code === 'KEY_IS_PRIVATE') code = EXIT.USAGE;
  else if (!r.valid) code = EXIT.BAD_SIGNATURE;
  else if (r.time !== 'ok') code = EXIT.TIME_INVALID;
  else code = EXIT.OK;

  const status = code === EXIT.OK ? 'valid' : 'invalid';
  if (v.json) {
    io.stdout(
      `${JSON.stringify({ status, valid: r.valid, code: r.code, message: r.message, alg: r.alg, kid: r.kid, time: r.time, timeMessage: r.timeMessage, warnings: r.warnings.map(({ code: c, severity, message }) => ({ code: c, severity, message })) })}\n`,
    );
  } else {
    const line = r.valid && r.time !== 'ok' ? `invalid: ${r.message} ${r.timeMessage ?? ''}`.trimEnd() : `${status}: ${r.message}`;
    (code === EXIT.OK ? io.stdout : io.stderr)(`${line}\n`);
    for (const w of r.warnings) io.stderr(`warning ${w.code}: ${w.message}\n`);
  }
  return code;
};
