/**
 * One validator for the environment and for `createLatchkey` options: every rule of the
 * configuration table, broken once through `loadConfig(env)` and once through
 * `createLatchkey(options)`, gives the same `ConfigError` (code, reason, message) naming the
 * variable on one path and the option on the other.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig, validateConfig } from '../../src/config/config.js';
import { ConfigError, type ConfigReason } from '../../src/errors.js';
import { createLatchkey, type LatchkeyOptions } from '../../src/latchkey.js';
import { createAuthenticator } from '../../src/adapters/authenticate.js';
import { createRemoteJwks } from '../../src/jwks/index.js';

type Path = keyof typeof CONFIG_VARIABLES;

interface Row {
  /** The value at fault. */
  path: Path;
  reason: ConfigReason;
  /** The environment that breaks the rule (`null`: the environment cannot express this value, text is always a non-empty string). */
  env: Record<string, string> | null;
  /** The options that break it (`null`: the rule is about text, e.g. an encoding). */
  options: LatchkeyOptions | null;
}

const bytes = (n: number) => new Uint8Array(randomBytes(n));

/** A row that sets one value: `env` the variable's text, `option` the option's value. */
function row(path: Path, reason: ConfigReason, env: string | null, option: unknown): Row {
  const options = path.startsWith('rateLimits.') ? { rateLimits: { [path.slice('rateLimits.'.length)]: option } } : { [path]: option };
  return {
    path,
    reason,
    env: env === null ? null : { [CONFIG_VARIABLES[path]]: env },
    options: option === null ? null : (options as LatchkeyOptions),
  };
}

/** A row for a rule between values (the whole environment and the whole options). */
function rowOf(path: Path, reason: ConfigReason, env: Record<string, string>, options: LatchkeyOptions): Row {
  return { path, reason, env, options };
}

const TABLE: Row[] = [
  row('port', 'range', '65536', 65536),
  row('port', 'type', 'eighty', 'eighty'),
  row('port', 'type', '80.5', 80.5),
  row('host', 'type', null, ''),
  row('host', 'format', 'not a host/', 'not a host/'),
  row('host', 'format', 'user@host', 'user@host'),
  row('databaseUrl', 'format', 'mysql://db/latchkey', 'mysql://db/latchkey'),
  row('databaseUrl', 'type', null, 42),
  row('secret', 'length', 'ab'.repeat(31), new Uint8Array(31)),
  row('secret', 'length', 'AA', new Uint8Array(1)),
  row('secret', 'format', 'not hex or base64url!', null),
  row('secret', 'type', null, 'ab'.repeat(32)),
  rowOf(
    'secret',
    'required',
    { LATCHKEY_DATABASE_URL: 'postgres://127.0.0.1/test' },
    { databaseUrl: 'postgres://127.0.0.1/test', secret: undefined },
  ),
  row('redisUrl', 'format', 'http://127.0.0.1:6379', 'http://127.0.0.1:6379'),
  row('issuer', 'format', 'ftp://auth.example.com', 'ftp://auth.example.com'),
  row('issuer', 'format', 'auth.example.com', 'auth.example.com'),
  row('audience', 'required', ' , ', []),
  row('audience', 'type', null, ['api', '']),
  row('accessTokenTtl', 'range', '0', 0),
  row('accessTokenTtl', 'range', '86401', 86_401),
  row('accessTokenTtl', 'type', '15m', '15m'),
  row('refreshTokenTtl', 'range', '0', 0),
  row('sessionMaxAge', 'range', '-5', -5),
  row('refreshGrace', 'range', '301', 301),
  row('refreshGrace', 'range', '-1', -1),
  row('signingAlg', 'choice', 'none', 'none'),
  row('signingAlg', 'choice', 'HS512', 'HS512'),
  row('hs256Secret', 'length', 'only-twenty-two-bytes!', new TextEncoder().encode('only-twenty-two-bytes!')),
  rowOf('hs256Secret', 'required', { LATCHKEY_SIGNING_ALG: 'HS256' }, { signingAlg: 'HS256' }),
  row('hs256Secret', 'type', null, 'a string, not bytes, of more than 32 characters'),
  row('allowSignup', 'type', 'maybe', 'maybe'),
  row('cookieSecure', 'type', 'sometimes', 1),
  row('allowedOrigins', 'format', 'ftp://app.example.com', ['ftp://app.example.com']),
  row('allowedOrigins', 'format', 'https://app.example.com,app.example.com', ['https://app.example.com', 'app.example.com']),
  row('allowedOrigins', 'type', null, 'https://app.example.com'),
  row('rateLimits.enabled', 'type', 'perhaps', 'perhaps'),
  row('rateLimits.loginPerIp', 'range', '0', 0),
  row('rateLimits.loginPerAccount', 'range', '0', 0),
  row('rateLimits.loginPerAccount', 'type', 'five', 'five'),
  row('rateLimits.registerPerIp', 'range', '0', 0),
  row('rateLimits.refreshPerSession', 'range', '59', 59),
  rowOf(
    'rateLimits.refreshPerSession',
    'range',
    { LATCHKEY_RATE_LIMIT_WINDOW: '120', LATCHKEY_RATE_LIMIT_REFRESH_SESSION: '119' },
    { rateLimits: { windowSeconds: 120, refreshPerSession: 119 } },
  ),
  row('rateLimits.windowSeconds', 'range', '0', 0),
  row('rateLimits.windowSeconds', 'range', '86401', 86_401),
  row('rateLimits.redisFailure', 'choice', 'maybe', 'maybe'),
  row('rateLimits.redisPrefix', 'type', null, ''),
  row('trustProxy', 'range', '101', 101),
  row('trustProxy', 'range', null, -1),
  row('trustProxy', 'format', 'yes', ['yes']),
  row('trustProxy', 'format', '10.0.0.0/33', ['10.0.0.0/33']),
  row('trustProxy', 'format', '10.0.0.0/255.0.255.0', ['10.0.0.0/255.0.255.0']),
  row('trustProxy', 'type', null, 'loopback'),
  row('logLevel', 'choice', 'loud', 'loud'),
  row('dbPoolSize', 'range', '0', 0),
  row('dbPoolSize', 'range', '1001', 1001),
  row('keyReloadInterval', 'range', '0', 0),
  row('keyReloadInterval', 'range', '31', 31),
  row('dbStartupTimeout', 'range', '601', 601),
  row('sqliteSynchronous', 'choice', 'off', 'off'),
  row('auditRetention', 'range', '-1', -1),
  row('auditRetention', 'type', '30d', '30d'),
  row('requestTimeout', 'range', '0', 0),
  row('headersTimeout', 'range', '3601', 3601),
  rowOf('headersTimeout', 'conflict', { LATCHKEY_REQUEST_TIMEOUT: '5', LATCHKEY_HEADERS_TIMEOUT: '10' }, { requestTimeout: 5, headersTimeout: 10 }),
  row('keepAliveTimeout', 'type', 'soon', 'soon'),
  row('keepAliveTimeout', 'range', '3601', 3601),
  row('metricsToken', 'length', 'short-token', 'short-token'),
  row('metricsToken', 'format', 'a token with spaces and more than 32 characters', 'a token with spaces and more than 32 characters'),
  row('metricsToken', 'type', null, 42),
  row('rateLimits.forgotPerIp', 'range', '0', 0),
  row('rateLimits.linkPerIp', 'type', 'many', 'many'),
  row('smtpUrl', 'format', 'http://mail.example.com', 'http://mail.example.com'),
  row('smtpUrl', 'format', 'not a url', 'not a url'),
  row('appUrl', 'format', 'mail.example.com', 'mail.example.com'),
  row('resetUrl', 'format', 'https://app.example/reset?token={token}', 'https://app.example/reset?token={token}'),
  row('resetUrl', 'format', 'https://app.example/reset#t', 'https://app.example/reset#t'),
  row('verifyUrl', 'format', 'https://app.example/verify/{token}#x', 'https://app.example/verify/{token}#x'),
  row('verifyUrl', 'format', 'app/verify#token={token}', 'app/verify#token={token}'),
  row('resetTokenTtl', 'range', '0', 0),
  row('resetTokenTtl', 'range', '86401', 86_401),
  row('verifyTokenTtl', 'range', '2592001', 2_592_001),
  row('requireEmailVerification', 'type', 'sometimes', 'sometimes'),
  row('dpop', 'choice', 'maybe', 'maybe'),
  row('dpopNonce', 'type', 'sometimes', 'sometimes'),
  row('webauthnRpId', 'format', '192.168.1.10', '192.168.1.10'),
  row('webauthnRpId', 'format', 'https://example.com', 'https://example.com'),
  row('webauthnRpId', 'type', null, 42),
  row('mailFrom', 'type', null, ''),
  row('mailTemplates', 'type', null, 42),
  ...webhookRows(),
  row('oidcProviders', 'type', null, 'google'),
  row('github', 'type', null, 'yes'),
  row('allowedRedirects', 'format', 'javascript:alert(1)', ['javascript:alert(1)']),
  row('allowedRedirects', 'format', '/app/', ['/app/']),
  row('allowedRedirects', 'format', 'https://user:pw@app.example/', ['https://user:pw@app.example/']),
  row('oauthTimeout', 'range', '11', 11),
  row('oauthTimeout', 'range', '0', 0),
  row('rateLimits.oauthPerIp', 'range', '0', 0),
];

/** `LATCHKEY_WEBHOOK_URL` and `LATCHKEY_WEBHOOK_SECRET`: each alone, a bad URL, secrets of the wrong form or size. */
function webhookRows(): Row[] {
  const url = 'https://hooks.example/latchkey';
  const secret = (n: number) => `whsec_${Buffer.from(bytes(n)).toString('base64')}`;
  const both = (path: Path, reason: ConfigReason, u: string, s: string) =>
    rowOf(path, reason, { LATCHKEY_WEBHOOK_URL: u, LATCHKEY_WEBHOOK_SECRET: s }, { webhookUrl: u, webhookSecret: s });
  return [
    rowOf('webhookSecret', 'required', { LATCHKEY_WEBHOOK_URL: url }, { webhookUrl: url }),
    rowOf('webhookUrl', 'required', { LATCHKEY_WEBHOOK_SECRET: secret(32) }, { webhookSecret: secret(32) }),
    both('webhookUrl', 'format', 'ftp://hooks.example/x', secret(32)),
    both('webhookUrl', 'format', 'hooks.example/x', secret(32)),
    both('webhookUrl', 'format', 'https://user:pass@hooks.example/x', secret(32)),
    row('webhookUrl', 'type', null, 42),
    both('webhookSecret', 'length', url, secret(23)),
    both('webhookSecret', 'length', url, secret(65)),
    both('webhookSecret', 'format', url, Buffer.from(bytes(32)).toString('base64')),
    both('webhookSecret', 'format', url, `whsec_${Buffer.from(bytes(32)).toString('base64url')}-_`),
    both('webhookSecret', 'format', url, 'whsec_not base64 at all!'),
    both('webhookSecret', 'format', url, `whsec_${Buffer.from(bytes(32)).toString('hex')}`.slice(0, -1) + '*'),
    row('webhookSecret', 'type', null, 42),
  ];
}

/** The environment message with every variable named as its option: what the option path must say. */
function asOptionMessage(message: string): string {
  return Object.entries(CONFIG_VARIABLES).reduce((text, [path, variable]) => text.replace(new RegExp(`\\b${variable}\\b`, 'g'), path), message);
}

function caught(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('accepted');
}

async function caughtAsync(action: () => Promise<unknown>): Promise<ConfigError> {
  const result = await action().then(
    async (latchkey) => {
      await (latchkey as { close(): Promise<void> }).close();
      return new Error('accepted');
    },
    (error: unknown) => error,
  );
  expect(result).toBeInstanceOf(ConfigError);
  return result as ConfigError;
}

/** Valid options that open nothing on disk should a rule fail to fire: the row's values replace them. */
const BASE: LatchkeyOptions = { databaseUrl: 'sqlite::memory:', secret: bytes(32), keyReloadIntervalMs: 0 };

describe('configuration: one validator for the environment and createLatchkey options', () => {
  it('accepts webhook secrets of 24 to 64 bytes, padded or not', () => {
    for (const n of [24, 32, 64]) {
      const secret = `whsec_${randomBytes(n).toString('base64')}`;
      for (const text of [secret, secret.replace(/=+$/, '')]) {
        expect(loadConfig({ LATCHKEY_WEBHOOK_URL: 'http://127.0.0.1:9/hooks', LATCHKEY_WEBHOOK_SECRET: text }).webhookSecret).toBe(text);
      }
    }
  });

  it.each(TABLE.map((r) => [`${r.path} ${r.reason} ${JSON.stringify(r.env)}`, r] as const))('%s', async (_, { path, reason, env, options }) => {
    const fromEnv = env && caught(() => loadConfig(env));
    const fromOptions = options && (await caughtAsync(() => createLatchkey({ ...BASE, ...options })));
    if (fromEnv) {
      expect(fromEnv).toMatchObject({ code: 'CONFIG_INVALID', variable: CONFIG_VARIABLES[path], reason });
      expect(fromEnv.message.startsWith(`${CONFIG_VARIABLES[path]}: `)).toBe(true);
    }
    if (fromOptions) {
      expect(fromOptions).toMatchObject({ code: 'CONFIG_INVALID', variable: path, reason });
      expect(fromOptions.message.startsWith(`${path}: `)).toBe(true);
    }
    if (fromEnv && fromOptions) expect(fromOptions.message).toBe(asOptionMessage(fromEnv.message));
  });

  it('has a row for every variable; only text encodings are env-only, only kinds text cannot spell are options-only', () => {
    for (const path of Object.keys(CONFIG_VARIABLES) as Path[]) {
      expect(
        TABLE.some((r) => r.path === path && r.options !== null),
        `no options row for ${path}`,
      ).toBe(true);
    }
    for (const r of TABLE.filter((r) => !r.options)) expect(r.reason, `${r.path}: env-only`).toBe('format');
    for (const r of TABLE.filter((r) => !r.env)) expect(['type', 'range'], `${r.path}: options-only`).toContain(r.reason);
    expect(TABLE.filter((r) => r.env && r.options).length).toBeGreaterThan(50);
  });

  it('names each variable of an identity provider exactly (LATCHKEY_OIDC_<NAME>_*, LATCHKEY_GITHUB_*); the options by their path', async () => {
    const acme = { LATCHKEY_OIDC_ACME_ISSUER: 'https://idp.example', LATCHKEY_OIDC_ACME_CLIENT_ID: 'id', LATCHKEY_OIDC_ACME_CLIENT_SECRET: 'secret' };
    const provider = { id: 'acme', issuer: 'https://idp.example', clientId: 'id', clientSecret: 'secret' };
    for (const [env, variable, reason, options, option] of [
      [
        { ...acme, LATCHKEY_OIDC_ACME_ISSUER: 'http://idp.example' },
        'LATCHKEY_OIDC_ACME_ISSUER',
        'format',
        { ...provider, issuer: 'http://idp.example' },
        'oidcProviders[0].issuer',
      ],
      [
        { ...acme, LATCHKEY_OIDC_ACME_ISSUER: 'https://idp.example/?x=1' },
        'LATCHKEY_OIDC_ACME_ISSUER',
        'format',
        { ...provider, issuer: 'https://idp.example/?x=1' },
        'oidcProviders[0].issuer',
      ],
      [
        { ...acme, LATCHKEY_OIDC_ACME_CLIENT_SECRET: '' },
        'LATCHKEY_OIDC_ACME_CLIENT_SECRET',
        'required',
        { ...provider, clientSecret: '' },
        'oidcProviders[0].clientSecret',
      ],
      [
        { LATCHKEY_OIDC_MY_IDP_ISSUER: 'https://idp.example' },
        'LATCHKEY_OIDC_MY_IDP_CLIENT_ID',
        'required',
        { ...provider, clientId: undefined },
        'oidcProviders[0].clientId',
      ],
      [
        { LATCHKEY_OIDC_GITHUB_ISSUER: 'https://github.com', LATCHKEY_OIDC_GITHUB_CLIENT_ID: 'a', LATCHKEY_OIDC_GITHUB_CLIENT_SECRET: 'b' },
        'LATCHKEY_OIDC_GITHUB_ISSUER',
        'conflict',
        { ...provider, id: 'github' },
        'oidcProviders[0].id',
      ],
      [{ LATCHKEY_GITHUB_CLIENT_SECRET: 'b' }, 'LATCHKEY_GITHUB_CLIENT_ID', 'required', { clientSecret: 'b' }, 'github.clientId'],
      [{ LATCHKEY_GITHUB_CLIENT_ID: 'a' }, 'LATCHKEY_GITHUB_CLIENT_SECRET', 'required', { clientId: 'a' }, 'github.clientSecret'],
    ] as const) {
      expect(
        caught(() => loadConfig(env)),
        variable,
      ).toMatchObject({ code: 'CONFIG_INVALID', variable, reason });
      const asOptions = variable.startsWith('LATCHKEY_GITHUB') ? { github: options } : { oidcProviders: [options] };
      const error = await caughtAsync(() => createLatchkey({ ...BASE, ...(asOptions as LatchkeyOptions) }));
      expect(error, option).toMatchObject({ code: 'CONFIG_INVALID', variable: option, reason });
    }
    expect(caught(() => validateConfig({ oidcProviders: [provider, provider] }))).toMatchObject({
      variable: 'oidcProviders[1].id',
      reason: 'conflict',
    });
  });

  it('reads every LATCHKEY_OIDC_<NAME>_* triple (id = the name lower-cased; http:// issuers on loopback), GitHub and the redirect prefixes', () => {
    const config = loadConfig({
      LATCHKEY_OIDC_MY_IDP_ISSUER: 'http://127.0.0.1:9000/realms/test',
      LATCHKEY_OIDC_MY_IDP_CLIENT_ID: 'latchkey',
      LATCHKEY_OIDC_MY_IDP_CLIENT_SECRET: 's3cret',
      LATCHKEY_OIDC_GOOGLE_ISSUER: 'https://accounts.google.com',
      LATCHKEY_OIDC_GOOGLE_CLIENT_ID: 'g',
      LATCHKEY_OIDC_GOOGLE_CLIENT_SECRET: 'gs',
      LATCHKEY_GITHUB_CLIENT_ID: 'gh',
      LATCHKEY_GITHUB_CLIENT_SECRET: 'ghs',
      LATCHKEY_ALLOWED_REDIRECTS: 'https://app.example, https://other.example/signed-in/',
      LATCHKEY_RATE_LIMIT_OAUTH_IP: '7',
      LATCHKEY_OAUTH_TIMEOUT: '3',
    });
    expect(config.oidcProviders).toEqual([
      { id: 'google', issuer: 'https://accounts.google.com', clientId: 'g', clientSecret: 'gs' },
      { id: 'my_idp', issuer: 'http://127.0.0.1:9000/realms/test', clientId: 'latchkey', clientSecret: 's3cret' },
    ]);
    expect(config.github).toEqual({ clientId: 'gh', clientSecret: 'ghs' });
    expect(config.allowedRedirects).toEqual(['https://app.example/', 'https://other.example/signed-in/']);
    expect(config.rateLimits.oauthPerIp).toBe(7);
    expect(config.oauthTimeout).toBe(3);
    expect(loadConfig({})).toMatchObject({
      oidcProviders: [],
      github: undefined,
      allowedRedirects: [],
      oauthTimeout: 10,
      rateLimits: { oauthPerIp: 60 },
    });
  });

  it('refuses createLatchkey({ secret: new Uint8Array(1) }) as the environment refuses a 1-byte LATCHKEY_SECRET', async () => {
    const error = await caughtAsync(() => createLatchkey({ secret: new Uint8Array(1) }));
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', variable: 'secret', reason: 'length', message: 'secret: must be at least 32 bytes' });
    expect(caught(() => loadConfig({ LATCHKEY_SECRET: 'AA' }))).toMatchObject({ variable: 'LATCHKEY_SECRET', reason: 'length' });
  });

  it('refuses the embedding hooks of the wrong kind, naming them', async () => {
    for (const [options, variable, reason] of [
      [{ now: 'yesterday' }, 'now', 'type'],
      [{ onEvent: {} }, 'onEvent', 'type'],
      [{ passwordRules: [() => undefined, 'no digits'] }, 'passwordRules', 'type'],
      [{ keyReloadIntervalMs: -1 }, 'keyReloadIntervalMs', 'range'],
      [{ keyReloadIntervalMs: 60_000 }, 'keyReloadIntervalMs', 'range'],
      [{ keyReloadIntervalMs: 0.5 }, 'keyReloadIntervalMs', 'type'],
    ] as const) {
      const error = await caughtAsync(() => createLatchkey({ ...BASE, ...(options as unknown as LatchkeyOptions) }));
      expect(error, variable).toMatchObject({ code: 'CONFIG_INVALID', variable, reason });
    }
  });

  it('refuses misconfigured requireAuth and JWKS clients with the same ConfigError, naming the option', () => {
    const remote = { jwksUrl: 'https://auth.example.com/.well-known/jwks.json', issuer: 'https://auth.example.com', audience: 'api' };
    for (const [make, variable, reason] of [
      [() => createAuthenticator({} as never), 'requireAuth', 'conflict'],
      [() => createAuthenticator({ latchkey: {} } as never), 'requireAuth', 'type'],
      [() => createAuthenticator({ ...remote, sessionCacheMs: 60_000 }), 'requireAuth', 'range'],
      [() => createAuthenticator({ ...remote, issuer: undefined } as never), 'requireAuth', 'required'],
      [() => createAuthenticator({ ...remote, checkSession: true }), 'requireAuth', 'required'],
      [() => createAuthenticator({ ...remote, dpopNonce: 'yes' as never }), 'requireAuth', 'type'],
      [() => createRemoteJwks({ url: 'http://auth.example.com/jwks.json' }), 'jwksUrl', 'format'],
      [() => createRemoteJwks({ url: 'not a url' }), 'jwksUrl', 'format'],
      [() => createRemoteJwks({ url: remote.jwksUrl, timeoutMs: -1 }), 'timeoutMs', 'range'],
    ] as const) {
      expect(caught(make), variable).toMatchObject({ code: 'CONFIG_INVALID', variable, reason });
    }
  });

  it('gives the same configuration for the same values through either path', () => {
    const env = {
      PORT: '8080',
      LATCHKEY_SECRET: 'ab'.repeat(32),
      LATCHKEY_ISSUER: 'https://auth.example.com',
      LATCHKEY_AUDIENCE: 'api, admin',
      LATCHKEY_ACCESS_TOKEN_TTL: '300',
      LATCHKEY_REFRESH_GRACE: '0',
      LATCHKEY_SIGNING_ALG: 'HS256',
      LATCHKEY_HS256_SECRET: 'x'.repeat(40),
      LATCHKEY_ALLOW_SIGNUP: 'off',
      LATCHKEY_ALLOWED_ORIGINS: 'https://app.example.com/login',
      LATCHKEY_RATE_LIMIT_WINDOW: '120',
      LATCHKEY_RATE_LIMIT_REFRESH_SESSION: '240',
      LATCHKEY_RATE_LIMIT_REDIS_FAILURE: 'CLOSED',
      LATCHKEY_TRUST_PROXY: 'loopback, 10.0.0.0/8',
      LATCHKEY_HEADERS_TIMEOUT: '20',
    };
    const options = validateConfig({
      port: 8080,
      secret: new Uint8Array(Buffer.from('ab'.repeat(32), 'hex')),
      issuer: 'https://auth.example.com',
      audience: ['api', 'admin'],
      accessTokenTtl: 300,
      refreshGrace: 0,
      signingAlg: 'HS256',
      hs256Secret: new TextEncoder().encode('x'.repeat(40)),
      allowSignup: false,
      allowedOrigins: ['https://app.example.com/login'],
      rateLimits: { windowSeconds: 120, refreshPerSession: 240, redisFailure: 'closed' },
      trustProxy: ['loopback', '10.0.0.0/8'],
      headersTimeout: 20,
    });
    expect(options).toEqual(loadConfig(env));
    expect(options.allowedOrigins).toEqual(['https://app.example.com']);
    expect(validateConfig({})).toEqual(loadConfig({}));
  });

  it('keeps a list of origins as given (an embedder may add one once it listens)', () => {
    const origins = ['http://127.0.0.1:5173'];
    expect(validateConfig({ allowedOrigins: origins }).allowedOrigins).toBe(origins);
  });
});
