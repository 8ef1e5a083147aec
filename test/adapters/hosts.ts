/**
 * Host apps for the HTTP contract suite: the auth routes mounted into an Express app and into a
 * Fastify app, the way docs/embedding.md tells users to do it (host app with its own body
 * parser, its own routes and Fastify's default, type-coercing validator).
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express from 'express';
import Fastify from 'fastify';
import type { Latchkey } from '../../src/latchkey.js';
import { jwksHandler as expressJwks, requireAuth as expressRequireAuth } from '../../src/adapters/express.js';
import { jwksHandler as fastifyJwks, latchkeyUser, requireAuth as fastifyRequireAuth } from '../../src/adapters/fastify.js';

export interface Host {
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function expressHost(latchkey: Latchkey, mountPath = '/auth'): Promise<Host> {
  const app = express();
  const router = latchkey.expressRouter();
  app.use(mountPath, router);
  app.get('/.well-known/jwks.json', expressJwks(latchkey));
  app.use(express.json());
  app.get('/api/profile', expressRequireAuth({ latchkey }), (req, res) => {
    res.json({ id: req.user!.id, role: req.user!.role });
  });
  const server: Server = createServer(app);
  return {
    listen: () =>
      new Promise((resolve) => {
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
      }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await router.close();
    },
  };
}

export async function fastifyHost(latchkey: Latchkey, prefix = '/auth') {
  // Fastify defaults on purpose (coerceTypes, removeAdditional): the plugin must not depend on the host's settings.
  const app = Fastify();
  await app.register(latchkeyUser);
  await app.register(latchkey.fastifyPlugin, { prefix });
  app.get('/.well-known/jwks.json', fastifyJwks(latchkey));
  app.get('/api/profile', { preHandler: fastifyRequireAuth({ latchkey }) }, async (request) => ({
    id: request.user!.id,
    role: request.user!.role,
  }));
  return {
    app,
    listen: () => app.listen({ port: 0, host: '127.0.0.1' }),
    close: () => app.close(),
  };
}
