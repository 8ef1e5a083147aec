/**
 * An existing Express app that adopts Latchkey: the auth routes mounted at /auth, the JWKS
 * published for other services, and the app's own routes behind `requireAuth`.
 *
 * In your app the imports are `latchkey` and `latchkey/express`; here they point at the sources.
 */
import express, { type Express } from 'express';
import type { Latchkey } from '../../src/latchkey.js'; // 'latchkey'
import { expressRouter, jwksHandler, requireAuth, requireRole } from '../../src/adapters/express.js'; // 'latchkey/express'

export function createApp(latchkey: Latchkey): Express {
  const app = express();

  // 1. The auth API (register, login, refresh, logout, sessions, ...). Mount it before any
  //    body parser: it reads and limits its own bodies. The refresh cookie's Path is /auth.
  app.use('/auth', expressRouter(latchkey));
  // 2. The public keys, so other services can verify tokens without a shared secret.
  app.get('/.well-known/jwks.json', jwksHandler(latchkey));

  // 3. The app's own routes.
  app.use(express.json());
  const signedIn = requireAuth({ latchkey });

  app.get('/api/profile', signedIn, async (req, res, next) => {
    try {
      const user = await latchkey.auth.me(req.user!);
      res.json({ ...user, sessionId: req.user!.sessionId });
    } catch (error) {
      next(error);
    }
  });

  app.get('/api/admin/stats', signedIn, requireRole('admin'), (_req, res) => {
    res.json({ uptimeSeconds: Math.round(process.uptime()) });
  });

  // Instant logout matters here: tokens of a revoked session are refused within ~2 s.
  app.post('/api/account/export', requireAuth({ latchkey, checkSession: true }), (req, res) => {
    res.json({ exportFor: req.user!.id });
  });

  return app;
}
