/** Liveness, readiness and the public JWKS. */
import type { FastifyInstance } from 'fastify';
import type { Latchkey } from '../../latchkey.js';
import { ApiError } from '../../errors.js';
import { sendApiError } from '../errors.js';

export async function healthRoutes(app: FastifyInstance, { latchkey }: { latchkey: Latchkey }): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    try {
      await latchkey.store.ping();
      return { status: 'ok' };
    } catch {
      return sendApiError(reply, new ApiError('UNAVAILABLE', 'The database does not answer.'));
    }
  });

  app.get('/.well-known/jwks.json', async (_request, reply) => {
    // Short enough that a rotation shows up quickly; verifiers also refetch on an unknown kid.
    reply.header('cache-control', 'public, max-age=300');
    return latchkey.keys.jwks();
  });
}
