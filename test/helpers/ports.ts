/**
 * A port that is free right now, chosen by the OS (listen on 0, read it, close). Tests that must
 * pass a port to a process they start use this, never a random number: a random port in the
 * ephemeral range collides with the machine's own outgoing connections (EADDRINUSE in CI).
 */
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
