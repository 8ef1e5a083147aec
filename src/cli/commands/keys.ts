/** `latchkey keys rotate [--force]`: the published `next` key signs from now on; the old one keeps verifying. */
import { EXIT, type Command } from '../io.js';
import { withLatchkey } from '../admin.js';

export const keys: Command = async (args, io) => {
  const force = args[1] === '--force';
  if (args[0] !== 'rotate' || args.length !== (force ? 2 : 1)) {
    io.stderr('usage: latchkey keys rotate [--force]\n');
    return EXIT.USAGE;
  }
  return withLatchkey(io, async (latchkey) => {
    const previous = latchkey.keys.signingKey.kid;
    // Refused (KEY_ROTATION_TOO_SOON, exit 1) while the next key is too young; --force: docs/architecture.md#keys.
    const kid = await latchkey.keys.rotate({ force }); // audited as key_rotated by the key ring
    io.stdout(`${JSON.stringify({ kid, previous })}\n`);
    return EXIT.OK;
  });
};
