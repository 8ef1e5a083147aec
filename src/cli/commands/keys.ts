/** `latchkey keys rotate`: a new signing key signs from now on; the old one keeps verifying. */
import { EXIT, type Command } from '../io.js';
import { withLatchkey } from '../admin.js';

export const keys: Command = async (args, io) => {
  if (args[0] !== 'rotate' || args.length !== 1) {
    io.stderr('usage: latchkey keys rotate\n');
    return EXIT.USAGE;
  }
  return withLatchkey(io, async (latchkey) => {
    const previous = latchkey.keys.signingKey.kid;
    const kid = await latchkey.keys.rotate(); // audited as key_rotated by the key ring
    io.stdout(`${JSON.stringify({ kid, previous })}\n`);
    return EXIT.OK;
  });
};
