/**
 * A second service that trusts Latchkey access tokens without any shared secret and without
 * calling the auth server per request: it verifies signatures with the auth server's JWKS,
 * fetched once and cached (re-fetched on a new key id, at most once per 30 s).
 */
import express, { type Express } from 'express';
import { requireAuth, requireRole, type RemoteAuthOptions } from '../../src/adapters/express.js'; // 'latchkey/express'

export interface ResourceServerOptions {
  /** e.g. https://auth.example.com/.well-known/jwks.json */
  jwksUrl: string;
  /** The auth server's LATCHKEY_ISSUER. */
  issuer: string;
  /** The auth server's LATCHKEY_AUDIENCE. */
  audience: string | string[];
  /** JWKS client settings, e.g. `{ cooldownMs }` (default 30 s between two fetches). */
  jwksOptions?: RemoteAuthOptions['jwksOptions'];
}

export function createApp(options: ResourceServerOptions): Express {
  const app = express();
  const signedIn = requireAuth(options);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/api/orders', signedIn, (req, res) => {
    res.json({ user: req.user!.id, orders: [{ id: 'ord_1', total: 4200 }] });
  });

  app.get('/api/reports', signedIn, requireRole('admin'), (req, res) => {
    res.json({ requestedBy: req.user!.id, report: 'quarterly' });
  });

  return app;
}
