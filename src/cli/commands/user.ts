/** `latchkey user create --email E --password-stdin [--role R]`. */
import { parseArgs } from 'node:util';
import { EXIT, type Command } from '../io.js';
import { withLatchkey } from '../admin.js';

const USAGE = 'usage: latchkey user create --email E --password-stdin [--role R]\n';

export const user: Command = async (args, io) => {
  const [sub, ...rest] = args;
  if (sub !== 'create') {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { email: { type: 'string' }, 'password-stdin': { type: 'boolean' }, role: { type: 'string' } },
      strict: true,
    }));
  } catch (error) {
    io.stderr(`${(error as Error).message}\n${USAGE}`);
    return EXIT.USAGE;
  }
  if (!values.email || !values['password-stdin']) {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  // Passwords never come from argv (visible in `ps` and shell history). One trailing newline is ignored.
  const password = (await io.readStdin()).replace(/\r?\n$/, '');
  return withLatchkey(io, async (latchkey) => {
    const created = await latchkey.auth.createUser(values.email!, password, values.role ?? 'user');
    io.stdout(`${JSON.stringify(created)}\n`);
    return EXIT.OK;
  });
};
