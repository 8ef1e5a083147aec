/** Shared plumbing of the admin commands: open the configured service, report errors. */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { loadConfig, type LatchkeyConfig } from '../config/config.js';
import { createLatchkey, type Latchkey } from '../latchkey.js';
import { ConfigError, LatchkeyError } from '../errors.js';
import { parseStoreUrl } from '../store/index.js';
import { secretFileFor } from '../keys/master-secret.js';
import { EXIT, type CliIo } from './io.js';

/** The flag with which `user create` and `user import` may create a new database. */
const CREATE_DATABASE_FLAG = '--create-database';

export interface AdminOptions {
  /** Create the SQLite database (and its generated secret) when it does not exist yet. */
  createDatabase?: boolean;
  /** The command accepts {@link CREATE_DATABASE_FLAG}: the refusal says so. */
  offersCreate?: boolean;
}

/**
 * Why an admin command must not open this SQLite configuration, or `undefined` if it may
 * (docs/http-api.md#command-line): a database file that does not exist (the command runs in the
 * wrong directory, or the URL has a typo — opening it would create an empty database with a new
 * master secret), or a generated secret file missing beside an existing database (a new secret
 * could not unseal its keys). PostgreSQL is not checked: it creates nothing on its own.
 */
function missingFile(config: LatchkeyConfig, path: string, options: AdminOptions): string | undefined {
  const databaseMissing = !existsSync(path);
  if (databaseMissing && !options.createDatabase) {
    const create = options.offersCreate ? `, or pass ${CREATE_DATABASE_FLAG} to create an empty one here` : '';
    return `no database at ${path} (LATCHKEY_DATABASE_URL=${config.databaseUrl}): run this in the directory of the server, or set LATCHKEY_DATABASE_URL to its database; \`latchkey serve\` creates a new one${create}`;
  }
  const secretFile = secretFileFor(`sqlite:${path}`);
  if (!databaseMissing && config.secret === undefined && !existsSync(secretFile)) {
    return `no secret file at ${secretFile} for the database at ${path}: set LATCHKEY_SECRET to the secret it was created with, or restore the file (\`latchkey serve\` would write a new secret that cannot unseal its keys)`;
  }
  return undefined;
}

/** Runs `action` against the service configured by the environment; maps errors to exit codes. */
export async function withLatchkey(io: CliIo, action: (latchkey: Latchkey) => Promise<number>, options: AdminOptions = {}): Promise<number> {
  let latchkey: Latchkey;
  try {
    const config = loadConfig(io.env);
    let { databaseUrl } = config;
    const target = parseStoreUrl(databaseUrl);
    if (target.dialect === 'sqlite' && target.path !== ':memory:') {
      // Relative paths are the command's working directory's, as for `serve`.
      const path = isAbsolute(target.path) ? target.path : resolve(io.cwd, target.path);
      const missing = missingFile(config, path, options);
      if (missing) {
        io.stderr(`latchkey: ${missing}\n`);
        return EXIT.USAGE;
      }
      databaseUrl = `sqlite:${path}`;
    }
    latchkey = await createLatchkey({ ...config, databaseUrl, keyReloadIntervalMs: 0, mailWorker: false, webhookWorker: false });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`latchkey: invalid configuration: ${error.message}\n`);
      return EXIT.USAGE;
    }
    // A LATCHKEY_SECRET that cannot unseal the stored keys, a database that does not answer.
    if (error instanceof LatchkeyError) {
      io.stderr(`latchkey: ${error.code}: ${error.message}\n`);
      return EXIT.FAILURE;
    }
    throw error;
  }
  try {
    return await action(latchkey);
  } catch (error) {
    if (error instanceof LatchkeyError) {
      io.stderr(`latchkey: ${error.code}: ${error.message}\n`);
      return EXIT.FAILURE;
    }
    throw error;
  } finally {
    await latchkey.close();
  }
}
