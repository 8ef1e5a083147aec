/**
 * One server of the HTTP suite, run as a child process of bench/http.mjs (the load generator
 * runs in the parent: a separate process, over loopback).
 *
 *   node bench/http/server.mjs fastify  <databaseUrl>   minimal Fastify app: Latchkey's auth
 *        routes at /auth, GET /bare (no auth), GET /protected (requireAuth from
 *        latchkey/fastify), GET /fast-jwt and /fast-jwt-cached (the same route behind fast-jwt)
 *   node bench/http/server.mjs express  <databaseUrl>   Express 5: GET /bare, GET /protected
 *        (requireAuth from latchkey/express)
 *   node bench/http/server.mjs tutorial                 the classic tutorial: Express +
 *        jsonwebtoken + cookie-parser, HS256, GET /protected (authenticateToken middleware)
 *
 * IPC: sends {type:'ready', port}; answers {type:'usage'} (CPU time, RSS, max RSS since the
 * last usage request), {type:'mint', count} (fresh access tokens), {type:'sessions', count}
 * (logged-in sessions: refresh tokens), {type:'user'} (credentials for the login test).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [kind, databaseUrl] = process.argv.slice(2);
const SECRET = process.env.BENCH_SECRET ?? randomBytes(32).toString('hex');
const ISSUER = 'https://auth.bench.test';
const AUDIENCE = 'bench-api';
const PASSWORD = 'correct horse battery staple';
const EMAIL = 'bench@example.com';

let maxRss = process.memoryUsage.rss();
setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > maxRss) maxRss = rss;
}, 50).unref();

function usage() {
  const cpu = process.cpuUsage();
  const rss = process.memoryUsage.rss();
  const out = { cpuMicros: cpu.user + cpu.system, rss, maxRss: Math.max(maxRss, rss) };
  maxRss = rss;
  return out;
}

const handlers = { usage: async () => usage() };
let cleanup = async () => {};

async function latchkeyFor(url) {
  const { createLatchkey } = await import('../out/dist/latchkey.js');
  let dir;
  let dbUrl = url;
  if (!dbUrl || dbUrl === 'sqlite') {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
    dbUrl = `sqlite:${join(dir, 'bench.db')}`;
  }
  const latchkey = await createLatchkey({
    databaseUrl: dbUrl,
    secret: Buffer.from(SECRET, 'hex'),
    issuer: ISSUER,
    audience: [AUDIENCE],
    logLevel: 'silent',
    // A load test measures capacity, not policy: the per-session refresh limit (120/min) and
    // the login limits would answer 429 after a fraction of a second.
    rateLimits: { enabled: false, loginPerIp: 1e9, loginPerAccount: 1e9, registerPerIp: 1e9, refreshPerSession: 1e9, windowSeconds: 60 },
    dbPoolSize: 10,
  });
  cleanup = async () => {
    await latchkey.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  const { createSigner } = await import('../out/dist/jwt/index.js');
  handlers.mint = async ({ count }) => {
    const signer = createSigner({ key: latchkey.keys.signingKey });
    const iat = Math.floor(Date.now() / 1000);
    // The claims Latchkey issues (auth/service.ts), for an existing-looking session.
    return Array.from({ length: count }, () =>
      signer({ iss: ISSUER, aud: AUDIENCE, sub: randomUUID(), sid: randomUUID(), role: 'user', jti: randomBytes(12).toString('base64url'), iat, exp: iat + 900 }),
    );
  };
  let user;
  async function ensureUser() {
    user ??= await latchkey.auth.createUser(EMAIL, PASSWORD);
    return user;
  }
  handlers.user = async () => {
    await ensureUser();
    return { email: EMAIL, password: PASSWORD };
  };
  handlers.sessions = async ({ count }) => {
    await ensureUser();
    const ctx = { ip: '127.0.0.1', userAgent: 'bench' };
    const sessions = [];
    for (let i = 0; i < count; i++) sessions.push((await latchkey.auth.login(EMAIL, PASSWORD, ctx)).refreshToken);
    return sessions;
  };
  return latchkey;
}

const ok = { id: 'anonymous' };

async function fastifyApp() {
  const latchkey = await latchkeyFor(databaseUrl);
  const { default: Fastify } = await import('fastify');
  const { requireAuth, latchkeyUser, fastifyAuthPlugin } = await import('../out/dist/adapters/fastify.js');
  const { createVerifier } = await import('fast-jwt');
  const app = Fastify({ logger: false });
  await app.register(latchkeyUser);
  await app.register(fastifyAuthPlugin(latchkey), { prefix: '/auth' });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/bare', async () => ok);
  app.get('/protected', { preHandler: requireAuth({ latchkey }) }, async (request) => ({ id: request.user.id }));
  // The same route with the verified-token cache off: AuthService.authenticate over a verifier
  // built with the service's options minus `cache` (AuthService option verifiedTokenCacheSize: 0).
  const { createVerifier: createLatchkeyVerifier } = await import('../out/dist/jwt/index.js');
  const uncachedAuth = Object.create(latchkey.auth, {
    verifier: {
      value: createLatchkeyVerifier({ algorithms: ['ES256', 'EdDSA', 'RS256'], keys: latchkey.keys.resolve, issuer: ISSUER, audience: [AUDIENCE], clockTolerance: 5 }),
    },
  });
  app.get('/protected-uncached', { preHandler: requireAuth({ latchkey: { ...latchkey, auth: uncachedAuth } }) }, async (request) => ({ id: request.user.id }));

  // The same route behind fast-jwt, written as its README suggests (key fixed at start-up).
  const publicPem = (await import('node:crypto')).createPublicKey(latchkey.keys.signingKey.key).export({ format: 'pem', type: 'spki' });
  const alg = latchkey.keys.signingKey.alg;
  for (const [path, cache] of [['/fast-jwt', false], ['/fast-jwt-cached', 10_000]]) {
    const verify = createVerifier({ key: publicPem, algorithms: [alg], allowedIss: ISSUER, allowedAud: AUDIENCE, cache });
    app.get(path, {
      preHandler: (request, reply, done) => {
        const header = request.headers.authorization;
        try {
          if (!header || !header.startsWith('Bearer ')) throw new Error('missing');
          request.user = verify(header.slice(7));
          done();
        } catch {
          reply.code(401).send({ error: 'INVALID_TOKEN' });
        }
      },
    }, async (request) => ({ id: request.user.sub }));
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const close = cleanup;
  cleanup = async () => {
    await app.close();
    await close();
  };
  return app.server.address().port;
}

async function expressApp() {
  const latchkey = await latchkeyFor(databaseUrl);
  const { default: express } = await import('express');
  const { requireAuth } = await import('../out/dist/adapters/express.js');
  const app = express();
  app.get('/healthz', (req, res) => res.json({ status: 'ok' }));
  app.get('/bare', (req, res) => res.json(ok));
  app.get('/protected', requireAuth({ latchkey }), (req, res) => res.json({ id: req.user.id }));
  return listen(app);
}

/** Written the way the classic "JWT auth with Express" tutorial does it. */
async function tutorialApp() {
  const { default: express } = await import('express');
  const { default: jwt } = await import('jsonwebtoken');
  const { default: cookieParser } = await import('cookie-parser');
  const TOKEN_SECRET = randomBytes(64).toString('hex');
  const app = express();
  app.use(express.json());
  app.use(cookieParser());
  function authenticateToken(req, res, next) {
    const authHeader = req.headers['authorization'];
    const token = authHeader && authHeader.split(' ')[1];
    if (token == null) return res.sendStatus(401);
    jwt.verify(token, TOKEN_SECRET, (err, user) => {
      if (err) return res.sendStatus(403);
      req.user = user;
      next();
    });
  }
  app.get('/healthz', (req, res) => res.json({ status: 'ok' }));
  app.get('/bare', (req, res) => res.json(ok));
  app.get('/protected', authenticateToken, (req, res) => res.json({ id: req.user.sub }));
  handlers.mint = async ({ count }) =>
    Array.from({ length: count }, () =>
      jwt.sign({ sub: randomUUID(), sid: randomUUID(), role: 'user' }, TOKEN_SECRET, { expiresIn: '15m', issuer: ISSUER, audience: AUDIENCE }),
    );
  return listen(app);
}

function listen(app) {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve(server.address().port));
    const close = cleanup;
    cleanup = async () => {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
      await close();
    };
  });
}

process.on('message', async (message) => {
  if (message?.type === 'exit') {
    await cleanup().catch(() => undefined);
    process.exit(0);
  }
  const handler = handlers[message?.type];
  try {
    const value = handler ? await handler(message) : undefined;
    process.send({ id: message.id, value });
  } catch (error) {
    process.send({ id: message.id, error: String(error?.stack ?? error) });
  }
});

const port = kind === 'fastify' ? await fastifyApp() : kind === 'express' ? await expressApp() : await tutorialApp();
process.send({ type: 'ready', port });
