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
import {
  expressRouter,
  discoveryHandler as expressDiscovery,
  jwksHandler as expressJwks,
  requireAuth as expressRequireAuth,
  requireRole as expressRequireRole,
  type ExpressRouterOptions,
} from '../../src/adapters/express.js';
import {
  discoveryHandler as fastifyDiscovery,
  fastifyAuthPlugin,
  jwksHandler as fastifyJwks,
  latchkeyUser,
  requireAuth as fastifyRequireAuth,
  requireRole as fastifyRequireRole,
} from '../../src/adapters/fastify.js';

export interface Host {
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface ExpressHostOptions extends ExpressRouterOptions {
  mountPath?: string;
  /** Put `express.json()` before the router (a setup mistake the router must report). */
  parserFirst?: boolean;
}

export async function expressHost(latchkey: Latchkey, options: ExpressHostOptions = {}): Promise<Host> {
  const { mountPath = '/auth', parserFirst = false, ...routerOptions } = options;
  const app = express();
  const router = expressRouter(latchkey, routerOptions);
  if (parserFirst) app.use(express.json());
  app.use(mountPath, router);
  app.get('/.well-known/jwks.json', expressJwks(latchkey));
  app.get(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'], expressDiscovery(latchkey));
  if (!parserFirst) app.use(express.json());
  app.get('/api/profile', expressRequireAuth({ latchkey }), (req, res) => {
    res.json(req.user);
  });
  app.get('/api/admin', expressRequireAuth({ latchkey }), expressRequireRole('admin'), (req, res) => {
    res.json({ admin: req.user!.id });
  });
  app.get('/api/instant', expressRequireAuth({ latchkey, checkSession: true, sessionCacheMs: 0 }), (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/api/instant-cached', expressRequireAuth({ latchkey, checkSession: true }), (_req, res) => {
    res.json({ ok: true });
  });
  app.get(`${mountPath}/custom`, (_req, res) => {
    res.json({ host: 'express' });
  });
  // The host's own error handler: what a misconfiguration looks like to the developer.
  app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ hostError: error.message });
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
    },
  };
}

export async function fastifyHost(latchkey: Latchkey, prefix = '/auth') {
  // Fastify defaults on purpose (coerceTypes, removeAdditional): the plugin must not depend on the host's settings.
  const app = Fastify();
  await app.register(latchkeyUser);
  await app.register(fastifyAuthPlugin(latchkey), { prefix });
  app.get('/.well-known/jwks.json', fastifyJwks(latchkey));
  app.get('/.well-known/openid-configuration', fastifyDiscovery(latchkey));
  app.get('/.well-known/oauth-authorization-server', fastifyDiscovery(latchkey));
  app.get('/api/profile', { preHandler: fastifyRequireAuth({ latchkey }) }, async (request) => request.user);
  app.get('/api/admin', { preHandler: [fastifyRequireAuth({ latchkey }), fastifyRequireRole('admin')] }, async (request) => ({
    admin: request.user!.id,
  }));
  app.get('/api/instant', { preHandler: fastifyRequireAuth({ latchkey, checkSession: true, sessionCacheMs: 0 }) }, async () => ({ ok: true }));
  app.get('/api/instant-cached', { preHandler: fastifyRequireAuth({ latchkey, checkSession: true }) }, async () => ({ ok: true }));
  return {
    app,
    listen: () => app.listen({ port: 0, host: '127.0.0.1' }),
    close: () => app.close(),
  };
}
