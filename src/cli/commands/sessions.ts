/** `latchkey sessions revoke --email E`: sign a user out everywhere. */
import { parseArgs } from 'node:util';
import { EXIT, type Command } from '../io.js';
import { withLatchkey } from '../admin.js';

const USAGE = 'usage: latchkey sessions revoke --email E\n';

export const sessions: Command = async (args, io) => {
  const [sub, ...rest] = args;
  let values: { email?: string };
  try {
    ({ values } = parseArgs({ args: rest, options: { email: { type: 'string' } }, strict: true }));
  } catch {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  if (sub !== 'revoke' || !values.email) {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  return withLatchkey(io, async (latchkey) => {
    const revoked = await latchkey.auth.revokeAllSessionsOf(values.email!);
    io.stdout(`${JSON.stringify({ revoked })}\n`);
    return EXIT.OK;
  });
};
