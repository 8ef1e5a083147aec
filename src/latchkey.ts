/**
 * `createLatchkey(options)`: the service assembled — store, master secret, key ring and
 * auth service — for the standalone server, the CLI and apps that embed Latchkey.
 */
import { loadConfig, type LatchkeyConfig } from './config/config.js';
import { createStore } from './store/index.js';
import type { Store, AuditEventInput } from './store/types.js';
import { deriveKeys, loadOrCreateSecretFile, secretFileFor } from './keys/master-secret.js';
import { KeyRing } from './keys/keyring.js';
import { AuthService } from './auth/service.js';
import type { PasswordRule } from './auth/passwords.js';

export interface LatchkeyOptions extends Partial<LatchkeyConfig> {
  /** Use this store instead of opening `databaseUrl` (it is not closed by `close()`). */
  store?: Store;
  /** Injectable clock (ms); tests freeze it. */
  now?: () => number;
  passwordRules?: readonly PasswordRule[];
  /** How often each instance re-reads signing keys from the store (ms). Default 10 s. */
  keyReloadIntervalMs?: number;
  /** Observes audited events (metrics). */
  onEvent?: (event: AuditEventInput) => void;
}

export interface Latchkey {
  readonly config: LatchkeyConfig;
  readonly store: Store;
  readonly keys: KeyRing;
  readonly auth: AuthService;
  readonly now: () => number;
  /** Subscribes to audited events; returns the unsubscribe function. */
  onEvent(listener: (event: AuditEventInput) => void): () => void;
  close(): Promise<void>;
}

/**
 * Opens (and migrates) the store, loads the master secret and signing keys, and returns
 * the service. Unset options take the defaults of CONTRACT §2 (environment not read:
 * call `loadConfig()` yourself and spread it in to honour it).
 */
export async function createLatchkey(options: LatchkeyOptions = {}): Promise<Latchkey> {
  const { store: givenStore, now = Date.now, passwordRules, keyReloadIntervalMs, onEvent, ...overrides } = options;
  const merged: LatchkeyConfig = { ...loadConfig({}), ...stripUndefined(overrides) };
  // The default allowed origin follows the issuer, as with the environment (CONTRACT §2).
  if (!overrides.allowedOrigins) merged.allowedOrigins = [new URL(merged.issuer).origin];
  const config: LatchkeyConfig = Object.freeze(merged);
  const listeners = new Set<(event: AuditEventInput) => void>();
  if (onEvent) listeners.add(onEvent);

  const masterSecret = config.secret ?? (await loadOrCreateSecretFile(secretFileFor(config.databaseUrl)));
  const derived = deriveKeys(masterSecret);
  const store = givenStore ?? (await createStore({ url: config.databaseUrl, poolSize: config.dbPoolSize }));
  try {
    await store.migrate();
    const keys = await KeyRing.open({
      store,
      keyEncryptionKey: derived.keyEncryption,
      alg: config.signingAlg,
      hs256Secret: config.hs256Secret,
      accessTokenTtl: config.accessTokenTtl,
      now,
      ...(keyReloadIntervalMs !== undefined ? { reloadIntervalMs: keyReloadIntervalMs } : {}),
    });
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
      ...(passwordRules ? { passwordRules } : {}),
      now,
      onEvent: (event) => {
        for (const listener of listeners) listener(event);
      },
    });
    return {
      config,
      store,
      keys,
      auth,
      now,
      onEvent(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      async close() {
        keys.close();
        if (!givenStore) await store.close();
      },
    };
  } catch (error) {
    if (!givenStore) await store.close().catch(() => undefined);
    throw error;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
