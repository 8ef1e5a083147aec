/** Parsing of `LATCHKEY_DATABASE_URL` values. */
import { ConfigError } from '../errors.js';

export type StoreTarget = { dialect: 'sqlite' /** File path, or `:memory:`. */; path: string } | { dialect: 'postgres'; connectionString: string };

/**
 * `sqlite:<path>` (`sqlite:///abs/path` also accepted), `sqlite::memory:`,
 * `postgres://…` or `postgresql://…`.
 */
export function parseStoreUrl(url: string): StoreTarget {
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return { dialect: 'postgres', connectionString: url };
  }
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') {
      throw new ConfigError('LATCHKEY_DATABASE_URL', 'sqlite: URL needs a file path (e.g. sqlite:./data/latchkey.db)');
    }
    return { dialect: 'sqlite', path };
  }
  throw new ConfigError('LATCHKEY_DATABASE_URL', 'must start with sqlite:, postgres:// or postgresql://');
}
