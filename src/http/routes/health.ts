/** Liveness, readiness, the public JWKS and the discovery metadata. */
import type { FastifyInstance } from 'fastify';
import type { Latchkey } from '../../latchkey.js';
import { ApiError } from '../../errors.js';
import { errorAnswer, sendAnswer } from '../errors.js';
import { JWKS_PATH, jwksAnswer } from './jwks.js';
import { DISCOVERY_PATHS, discoveryAnswer } from './discovery.js';

export async function healthRoutes(app: FastifyInstance, { latchkey }: { latchkey: Latchkey }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await latchkey.store.ping();
      return { status: 'ok' };
    } catch {
      return sendAnswer(reply, errorAnswer(new ApiError('UNAVAILABLE', 'The database does not answer.')));
    }
  });

  app.get(JWKS_PATH, async (request, reply) => sendAnswer(reply, jwksAnswer(latchkey, request.headers)));
  for (const path of DISCOVERY_PATHS) app.get(path, async (request, reply) => sendAnswer(reply, discoveryAnswer(latchkey, request.headers)));
}
