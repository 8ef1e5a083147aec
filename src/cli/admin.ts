/** Shared plumbing of the admin commands: open the configured service, report errors. */
import { loadConfig } from '../config/config.js';
import { createLatchkey, type Latchkey } from '../latchkey.js';
import { ConfigError, LatchkeyError } from '../errors.js';
import { EXIT, type CliIo } from './io.js';

/** Runs `action` against the service configured by the environment; maps errors to exit codes. */
export async function withLatchkey(io: CliIo, action: (latchkey: Latchkey) => Promise<number>): Promise<number> {
  let latchkey: Latchkey;
  try {
    latchkey = await createLatchkey({ ...loadConfig(io.env), keyReloadIntervalMs: 0 });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr(`latchkey: invalid configuration: ${error.message}\n`);
      return EXIT.USAGE;
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
