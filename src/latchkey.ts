/**
 * `createLatchkey(options)`: the service assembled — store, master secret, key ring and
 * auth service — for the standalone server, the CLI and apps that embed Latchkey.
 * It knows no HTTP framework: the edges (`latchkey/express`, `latchkey/fastify`,
 * `latchkey/server`) take the service as an argument.
 */
import { createClaimsResolver, type ClaimsOption } from './auth/custom-claims.js';
import { validateConfig, type ConfigInput, type LatchkeyConfig } from './config/config.js';
import { existsSync, statSync } from 'node:fs';
import { createStore, parseStoreUrl, type StoreLogger } from './store/index.js';
import { ConfigError, StoreUnavailableError } from './errors.js';
import type { Store, AuditEventInput } from './store/types.js';
import { deriveKeys, loadOrCreateSecretFile, secretFileFor } from './keys/master-secret.js';
import { KeyRing } from './keys/keyring.js';
import { createReplayCache } from './dpop/replay.js';
import { createDpopNonces, type DpopNonces } from './dpop/nonce.js';
import { AuthService, type AccountMail } from './auth/service.js';
import { requireEmail } from './auth/email.js';
import type { PasswordRule } from './auth/passwords.js';
import { commonPasswordRule, commonPasswords } from './auth/password-list.js';
import { createCounterStore, type CounterStore } from './ratelimit/index.js';
import { EmailFlows } from './auth/email-flows.js';
import { MailQueue } from './mail/queue.js';
import { loadTemplates } from './mail/templates.js';
import { createMailTransport, outboxDirFor } from './mail/transport.js';
import { WebhookWorker } from './webhooks/worker.js';
import { OAuthFlows } from './oauth/flows.js';
import { createProviders } from './oauth/providers.js';

/**
 * The configuration (any subset of {@link LatchkeyConfig}, checked by the same rules as the
 * environment: an invalid value throws a `ConfigError` naming the option) and the embedding hooks.
 */
export interface LatchkeyOptions extends ConfigInput {
  /** Use this store instead of opening `databaseUrl` (it is not closed by `close()`). */
  store?: Store;
  /** Injectable clock (ms); tests freeze it. */
  now?: () => number;
  /** Extra password rules, checked after the built-in length and common-password rules. */
  passwordRules?: readonly PasswordRule[];
  /** Rate-limit counters to use instead of memory / `redisUrl` (not closed by `close()`). */
  rateLimitStore?: CounterStore;
  /** How often each instance re-reads signing keys from the store (ms). Default `keyReloadInterval` s (10). */
  keyReloadIntervalMs?: number;
  /** pino-compatible: database connection problems, start-up retries, failed key reloads. */
  logger?: StoreLogger;
  /** Observes audited events (metrics). */
  onEvent?: (event: AuditEventInput) => void;
  /**
   * Claims of your own in every access token, at login and every refresh (docs/embedding.md#custom-claims):
   * `async (user) => ({ org: … })`, or `{ names: ['org'], value }` to have the names checked at
   * start-up. Reserved names (`sub`, `role`, `scope`, … `RESERVED_CLAIMS`) are refused.
   */
  claims?: ClaimsOption;
  /**
   * Run the mail queue's worker in this instance (default true). One-shot CLI commands turn it
   * off; every serving instance should run one (they never send a mail twice).
   */
  mailWorker?: boolean;
  /**
   * Act as a serving instance for webhooks (default true): at start, switch the database's
   * webhook outbox on or off to match `webhookUrl`, and with a URL run the delivery worker.
   * One-shot CLI commands turn it off (their audit events still reach the outbox while it is on).
   */
  webhookWorker?: boolean;
}

export interface Latchkey {
  readonly config: LatchkeyConfig;
  readonly store: Store;
  readonly keys: KeyRing;
  readonly auth: AuthService;
  /** Recovery and verification mails: forgot/reset, verify, resend, address change (docs/email.md). */
  readonly email: EmailFlows;
  /** The durable mail queue (its transport tells SMTP from the dev outbox). */
  readonly mail: MailQueue;
  /** The webhook delivery worker, when `webhookUrl` is set and `webhookWorker` is not false (docs/admin.md#webhooks). */
  readonly webhooks: WebhookWorker | undefined;
  /** Sign-in with the configured identity providers (docs/oidc.md). */
  readonly oauth: OAuthFlows;
  readonly now: () => number;
  /**
   * This deployment's DPoP server nonces, keyed by `LATCHKEY_SECRET` (every instance sharing it
   * accepts every other's): the auth endpoints require them with `LATCHKEY_DPOP_NONCE=true`,
   * `requireAuth({ latchkey, dpopNonce: true })` whatever that setting (docs/dpop.md#server-nonces).
   */
  readonly dpopNonces: DpopNonces;
  /** Subscribes to audited events; returns the unsubscribe function. */
  onEvent(listener: (event: AuditEventInput) => void): () => void;
  /**
   * Deletes sessions that ended (expired or revoked) more than `retentionSeconds` ago
   * (default {@link SESSION_RETENTION_SECONDS}); returns how many. `latchkey serve` runs it
   * hourly; embedders schedule it themselves.
   */
  purgeEndedSessions(retentionSeconds?: number): Promise<number>;
  /**
   * Deletes audit events older than `retentionSeconds` (default `LATCHKEY_AUDIT_RETENTION`,
   * 90 days; `0` keeps every event); returns how many. `latchkey serve` runs it hourly.
   */
  purgeAuditEvents(retentionSeconds?: number): Promise<number>;
  /**
   * Deletes webhook deliveries delivered more than {@link WEBHOOK_RETENTION_SECONDS} ago, and dead
   * letters older than `LATCHKEY_AUDIT_RETENTION` (never with `0`); returns how many. `latchkey serve` runs it hourly.
   */
  purgeWebhookDeliveries(): Promise<number>;
  close(): Promise<void>;
}

/** How long ended sessions are kept (for the audit trail and support questions): 7 days. */
export const SESSION_RETENTION_SECONDS = 7 * 24 * 3600;
/** How long delivered webhook deliveries stay in the outbox (for support questions): 7 days. */
const WEBHOOK_RETENTION_SECONDS = 7 * 24 * 3600;

/**
 * Opens (and migrates) the store, loads the master secret and signing keys, and returns
 * the service. Unset options take the defaults of the README's configuration table (environment not read:
 * call `loadConfig()` yourself and spread it in to honour it).
 */
export async function createLatchkey(options: LatchkeyOptions = {}): Promise<Latchkey> {
  const {
    store: givenStore,
    now = Date.now,
    passwordRules,
    keyReloadIntervalMs,
    onEvent,
    logger,
    rateLimitStore: givenCounters,
    mailWorker = true,
    claims,
    webhookWorker = true,
    ...overrides
  } = options;
  const config = validateConfig(overrides, 'option');
  checkHooks({ now, passwordRules, keyReloadIntervalMs, onEvent });
  const customClaims = createClaimsResolver(claims);
  const listeners = new Set<(event: AuditEventInput) => void>();
  if (onEvent) listeners.add(onEvent);

  const masterSecret = config.secret ?? (await generatedSecret(config.databaseUrl));
  const derived = deriveKeys(masterSecret);
  const store =
    givenStore ??
    (await createStore({
      url: config.databaseUrl,
      poolSize: config.dbPoolSize,
      sqliteSynchronous: config.sqliteSynchronous,
      ...(logger ? { logger } : {}),
    }));
  try {
    await migrateWithRetry(store, config.dbStartupTimeout * 1000, logger);
    const keys = await KeyRing.open({
      store,
      keyEncryptionKey: derived.keyEncryption,
      alg: config.signingAlg,
      hs256Secret: config.hs256Secret,
      accessTokenTtl: config.accessTokenTtl,
      now,
      reloadIntervalMs: keyReloadIntervalMs ?? config.keyReloadInterval * 1000,
      logger,
    });
    commonPasswords(); // load the list now: a missing data file fails at start, not at the first sign-up
    const counters = config.rateLimits.enabled
      ? (givenCounters ??
        (await createCounterStore({
          redisUrl: config.redisUrl,
          redisFailure: config.rateLimits.redisFailure,
          redisPrefix: config.rateLimits.redisPrefix,
          now,
          logger,
        })))
      : undefined;
    // DPoP proofs are accepted once across every instance sharing the Redis (docs/dpop.md#replay-cache).
    const dpopReplayCache = await createReplayCache({ redisUrl: config.redisUrl, redisPrefix: config.rateLimits.redisPrefix, now });
    const dpopNonces = createDpopNonces({ secret: derived.dpopNonce, now });
    const transport = createMailTransport({ smtpUrl: config.smtpUrl, from: config.mailFrom, outboxDir: outboxDirFor(config.databaseUrl) });
    const mail = new MailQueue({
      store,
      transport,
      sealKey: derived.mailSeal,
      templates: await loadTemplates(config.mailTemplates),
      defaults: { appName: new URL(config.issuer).host },
      now,
      ...(logger ? { logger } : {}),
    });
    if (transport.kind === 'outbox' && mailWorker) {
      logger?.warn({ file: transport.outboxDir }, 'LATCHKEY_SMTP_URL is not set: mails are written to the dev outbox, not sent');
    }
    // The service tells the e-mail flows about account events, and the flows use the service's
    // rate limits and audit trail: bound late, both directions through this one object.
    let email: EmailFlows | undefined;
    const accountMail: AccountMail = {
      sendVerification: (user, ctx) => email!.sendVerification(user, ctx),
      registrationAttempted: (user, ctx) => email!.registrationAttempted(user, ctx),
      passwordChanged: (user) => email!.passwordChanged(user),
    };
    const auth = new AuthService({
      store,
      keys,
      refreshMacKey: derived.refreshMac,
      issuer: config.issuer,
      audience: config.audience,
      accessTokenTtl: config.accessTokenTtl,
      refreshTokenTtl: config.refreshTokenTtl,
      sessionMaxAge: config.sessionMaxAge,
      refreshGrace: config.refreshGrace,
      allowSignup: config.allowSignup,
      passwordRules: [commonPasswordRule, ...(passwordRules ?? [])],
      ...(counters ? { rateLimits: { limits: config.rateLimits, store: counters, accountKey: derived.rateLimitAccount } } : {}),
      now,
      onEvent: (event) => {
        for (const listener of listeners) listener(event);
      },
      accountMail,
      requireEmailVerification: config.requireEmailVerification,
      dpopReplayCache,
      dpop: config.dpop,
      dpopNonces: config.dpopNonce ? dpopNonces : undefined,
      mfaSealKey: derived.mfaSeal,
      mfaMacKey: derived.mfaMac,
      ...(customClaims ? { claims: customClaims } : {}),
      webauthn: { rpId: config.webauthnRpId, allowedOrigins: config.allowedOrigins },
    });
    email = new EmailFlows({
      store,
      mail,
      linkMacKey: derived.linkMac,
      appUrl: config.appUrl,
      resetUrl: config.resetUrl,
      verifyUrl: config.verifyUrl,
      resetTokenTtl: config.resetTokenTtl,
      verifyTokenTtl: config.verifyTokenTtl,
      passwordRules: [commonPasswordRule, ...(passwordRules ?? [])],
      normalizeEmail: requireEmail,
      rateLimiter: auth.rateLimiter,
      now,
      audit: (event) => auth.audit(event),
      onBackgroundError: (error) =>
        logger?.error({ err: { code: (error as { code?: unknown }).code } }, 'forgot-password request failed after its answer'),
    });
    if (mailWorker) mail.start();
    const webhooks =
      webhookWorker && config.webhookUrl !== undefined && config.webhookSecret !== undefined
        ? new WebhookWorker({ store, url: config.webhookUrl, secret: config.webhookSecret, now, ...(logger ? { logger } : {}) })
        : undefined;
    if (webhookWorker) {
      // The outbox is a property of the database: every audit row gets a delivery while it is on,
      // whichever process writes it (docs/storage.md#the-webhook-outbox).
      if (await store.setWebhookOutbox(webhooks !== undefined, now())) {
        logger?.info(
          { enabled: webhooks !== undefined },
          webhooks ? 'webhook outbox switched on' : 'webhook outbox switched off (LATCHKEY_WEBHOOK_URL is not set)',
        );
      }
      await webhooks?.start();
    }
    const oauth = new OAuthFlows({
      auth,
      store,
      providers: createProviders(config, { timeoutSeconds: config.oauthTimeout, callbackBudgetMs: (config.oauthTimeout + 5) * 1000 }),
      sealKey: derived.oauthFlowSeal,
      issuerOrigin: new URL(config.issuer).origin,
      allowedRedirects: config.allowedRedirects,
      cookieSecure: config.cookieSecure,
      now,
      logger,
    });
    const latchkey: Latchkey = {
      config,
      store,
      keys,
      auth,
      email,
      mail,
      webhooks,
      oauth,
      now,
      dpopNonces,
      onEvent(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      purgeEndedSessions(retentionSeconds = SESSION_RETENTION_SECONDS) {
        return store.purgeSessions(now() - retentionSeconds * 1000);
      },
      async purgeAuditEvents(retentionSeconds = config.auditRetention) {
        return retentionSeconds > 0 ? store.purgeAudit(now() - retentionSeconds * 1000) : 0;
      },
      purgeWebhookDeliveries() {
        const at = now();
        return store.purgeWebhooks(at - WEBHOOK_RETENTION_SECONDS * 1000, config.auditRetention > 0 ? at - config.auditRetention * 1000 : 0);
      },
      async close() {
        await email.drain();
        await mail.stop();
        await webhooks?.stop();
        keys.close();
        if (counters && !givenCounters) await counters.close();
        await dpopReplayCache.close?.();
        if (!givenStore) await store.close();
      },
    };
    return latchkey;
  } catch (error) {
    if (!givenStore) await store.close().catch(() => undefined);
    throw error;
  }
}

/**
 * The master secret generated next to a SQLite database. A database that exists without its
 * secret file is refused: a new secret could not unseal its signing keys, and writing one would
 * leave the wrong secret behind (docs/security.md, "File modes").
 */
async function generatedSecret(databaseUrl: string): Promise<Uint8Array> {
  const file = secretFileFor(databaseUrl);
  const target = parseStoreUrl(databaseUrl);
  // An empty file is an empty database (nothing sealed yet): a new secret is harmless there.
  if (target.dialect === 'sqlite' && target.path !== ':memory:' && existsSync(target.path) && statSync(target.path).size > 0 && !existsSync(file)) {
    throw new ConfigError(
      'secret',
      `no secret file at ${file} for the existing database at ${target.path}: set LATCHKEY_SECRET to the secret it was created with, or restore the file (a new secret could not unseal its keys)`,
      'required',
    );
  }
  return loadOrCreateSecretFile(file);
}

/**
 * `store.migrate()`, retried with exponential backoff (0.25 s doubling to 5 s) while the
 * database is unavailable — PostgreSQL still starting, a failover — for up to `timeoutMs`;
 * then the last StoreUnavailableError, with a message that says how long it tried.
 * Any other error is thrown at once.
 */
async function migrateWithRetry(store: Store, timeoutMs: number, logger: StoreLogger | undefined): Promise<void> {
  const started = Date.now();
  for (let attempt = 1, delay = 250; ; attempt++, delay = Math.min(delay * 2, 5_000)) {
    try {
      await store.migrate();
      return;
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      const elapsed = Date.now() - started;
      if (elapsed + delay > timeoutMs) {
        if (attempt === 1) throw error;
        throw new StoreUnavailableError(
          `${error.message} Gave up after ${attempt} attempts in ${Math.round(elapsed / 1000)} s (LATCHKEY_DB_STARTUP_TIMEOUT).`,
          { cause: error },
        );
      }
      logger?.warn({ attempt, retryInMs: delay }, 'database unavailable at start-up; retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** The options that are not configuration values: the same kind of check, naming the option. */
function checkHooks(hooks: Pick<LatchkeyOptions, 'now' | 'passwordRules' | 'keyReloadIntervalMs' | 'onEvent'>): void {
  if (typeof hooks.now !== 'function') throw new ConfigError('now', 'must be a function returning milliseconds', 'type');
  if (hooks.onEvent !== undefined && typeof hooks.onEvent !== 'function') throw new ConfigError('onEvent', 'must be a function', 'type');
  if (hooks.passwordRules !== undefined && !(Array.isArray(hooks.passwordRules) && hooks.passwordRules.every((rule) => typeof rule === 'function'))) {
    throw new ConfigError('passwordRules', 'must be a list of functions', 'type');
  }
  const interval = hooks.keyReloadIntervalMs;
  if (interval !== undefined) {
    if (typeof interval !== 'number' || !Number.isInteger(interval)) throw new ConfigError('keyReloadIntervalMs', 'must be a whole number', 'type');
    // 0: never reload (tests, one-shot CLI commands); otherwise the bound of keyReloadInterval, in ms.
    if (interval < 0 || interval > 30_000) throw new ConfigError('keyReloadIntervalMs', 'must be between 0 and 30000', 'range');
  }
}
