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
 *   node bench/http/server.mjs handwritten              a careful hand-written refresh server:
 *        Express 5 + jsonwebtoken HS256 + better-sqlite3 prepared statements, SHA-256 token
 *        hashes rotated in one transaction (see handwrittenApp)
 *   Both baselines use SQLite in WAL at BENCH_SQLITE_SYNCHRONOUS (normal | full, default normal).
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
/**
 * `PRAGMA synchronous` of the baselines' SQLite databases (`BENCH_SQLITE_SYNCHRONOUS`, default
 * `normal`: Latchkey's default, so a comparison is taken at equal durability; `full` for the
 * rows that compare both sides at fsync-per-commit). docs/storage.md#durability.
 */
const SQLITE_SYNCHRONOUS = process.env.BENCH_SQLITE_SYNCHRONOUS ?? 'normal';
if (!['normal', 'full'].includes(SQLITE_SYNCHRONOUS)) throw new Error(`BENCH_SQLITE_SYNCHRONOUS: normal or full, not ${SQLITE_SYNCHRONOUS}`);
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
  // `jkt`: a DPoP-bound token (cnf.jkt = that key's thumbprint), as a login with a proof issues.
  handlers.mint = async ({ count, jkt }) => {
    const signer = createSigner({ key: latchkey.keys.signingKey });
    const iat = Math.floor(Date.now() / 1000);
    // The claims Latchkey issues (src/auth/access-token.ts), for an existing-looking session.
    return Array.from({ length: count }, () =>
      signer({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: randomUUID(),
        sid: randomUUID(),
        role: 'user',
        jti: randomBytes(12).toString('base64url'),
        iat,
        exp: iat + 900,
        ...(jkt ? { cnf: { jkt } } : {}),
      }),
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
  // The same route with the verified-token cache off: requireAuth as a resource server uses it
  // (remote JWKS, `verifiedTokenCacheSize: 0`), so every request checks the signature. The JWKS
  // is this process's, handed over by the injected fetch once (no per-request I/O).
  const jwksFetch = async () => new Response(JSON.stringify(latchkey.keys.jwks()), { headers: { 'content-type': 'application/json' } });
  const uncached = requireAuth({
    jwksUrl: `${ISSUER}/.well-known/jwks.json`,
    jwksOptions: { fetch: jwksFetch },
    issuer: ISSUER,
    audience: AUDIENCE,
    verifiedTokenCacheSize: 0,
  });
  app.get('/protected-uncached', { preHandler: uncached }, async (request) => ({ id: request.user.id }));

  // The same route behind fast-jwt, written as its README suggests (key fixed at start-up).
  const publicPem = (await import('node:crypto')).createPublicKey(latchkey.keys.signingKey.key).export({ format: 'pem', type: 'spki' });
  const alg = latchkey.keys.signingKey.alg;
  for (const [path, cache] of [
    ['/fast-jwt', false],
    ['/fast-jwt-cached', 10_000],
  ]) {
    const verify = createVerifier({ key: publicPem, algorithms: [alg], allowedIss: ISSUER, allowedAud: AUDIENCE, cache });
    app.get(
      path,
      {
        preHandler: (request, reply, done) => {
          const header = request.headers.authorization;
          try {
            if (!header?.startsWith('Bearer ')) throw new Error('missing');
            request.user = verify(header.slice(7));
            done();
          } catch {
            reply.code(401).send({ error: 'INVALID_TOKEN' });
          }
        },
      },
      async (request) => ({ id: request.user.sub }),
    );
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
  app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
  app.get('/bare', (_req, res) => res.json(ok));
  app.get('/protected', requireAuth({ latchkey }), (req, res) => res.json({ id: req.user.id }));
  return listen(app);
}

/**
 * Written the way the classic "JWT auth with Express" tutorial does it: access tokens signed
 * with a string secret from the environment (HS256), a `authenticateToken` middleware, a
 * refresh token that is itself a JWT (another string secret) stored in a table and rotated
 * on /refresh through an httpOnly cookie (cookie-parser), login checking an argon2id hash
 * (@node-rs/argon2, the same parameters as Latchkey). SQLite through better-sqlite3 (WAL).
 */
async function tutorialApp() {
  const { default: express } = await import('express');
  const { default: jwt } = await import('jsonwebtoken');
  const { default: cookieParser } = await import('cookie-parser');
  const { default: Database } = await import('better-sqlite3');
  const argon2 = await import('@node-rs/argon2');
  const ACCESS_TOKEN_SECRET = randomBytes(64).toString('hex');
  const REFRESH_TOKEN_SECRET = randomBytes(64).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'tutorial-bench-'));
  const db = new Database(join(dir, 'app.db'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${SQLITE_SYNCHRONOUS}`);
  db.exec(`create table users (id text primary key, email text unique not null, password_hash text not null);
           create table refresh_tokens (token text primary key, user_id text not null, expires_at integer not null);`);
  const findUser = db.prepare('select * from users where email = ?');
  const findToken = db.prepare('select * from refresh_tokens where token = ?');
  const insertToken = db.prepare('insert into refresh_tokens (token, user_id, expires_at) values (?, ?, ?)');
  const deleteToken = db.prepare('delete from refresh_tokens where token = ?');
  const userId = randomUUID();
  db.prepare('insert into users values (?, ?, ?)').run(
    userId,
    EMAIL,
    await argon2.hash(PASSWORD, { algorithm: argon2.Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 }),
  );

  const generateAccessToken = (user) => jwt.sign({ sub: user.id, role: 'user' }, ACCESS_TOKEN_SECRET, { expiresIn: '15m' });
  function issueRefreshToken(user) {
    const refreshToken = jwt.sign({ sub: user.id, jti: randomUUID() }, REFRESH_TOKEN_SECRET, { expiresIn: '7d' });
    insertToken.run(refreshToken, user.id, Date.now() + 7 * 86_400_000);
    return refreshToken;
  }
  async function login(email, password) {
    const user = findUser.get(email);
    if (!user || !(await argon2.verify(user.password_hash, password))) return undefined;
    return { accessToken: generateAccessToken(user), refreshToken: issueRefreshToken(user) };
  }

  const app = express();
  app.use(express.json());
  app.use(cookieParser());
  function authenticateToken(req, res, next) {
    const authHeader = req.headers.authorization;
    const token = authHeader?.split(' ')[1];
    if (token == null) return res.sendStatus(401);
    jwt.verify(token, ACCESS_TOKEN_SECRET, (err, user) => {
      if (err) return res.sendStatus(403);
      req.user = user;
      next();
    });
  }
  const cookieOptions = { httpOnly: true, sameSite: 'strict', maxAge: 7 * 86_400_000 };
  app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
  app.get('/bare', (_req, res) => res.json(ok));
  app.get('/protected', authenticateToken, (req, res) => res.json({ id: req.user.sub }));
  app.post('/auth/login', async (req, res) => {
    const tokens = await login(req.body.email, req.body.password);
    if (!tokens) return res.status(401).json({ message: 'Invalid email or password' });
    res.cookie('refreshToken', tokens.refreshToken, cookieOptions);
    res.json({ accessToken: tokens.accessToken });
  });
  app.post('/auth/refresh', (req, res) => {
    const refreshToken = req.cookies.refreshToken;
    if (refreshToken == null) return res.sendStatus(401);
    if (!findToken.get(refreshToken)) return res.sendStatus(403);
    jwt.verify(refreshToken, REFRESH_TOKEN_SECRET, (err, payload) => {
      if (err) return res.sendStatus(403);
      deleteToken.run(refreshToken); // rotation
      const user = { id: payload.sub };
      res.cookie('refreshToken', issueRefreshToken(user), cookieOptions);
      res.json({ accessToken: generateAccessToken(user) });
    });
  });
  handlers.mint = async ({ count }) =>
    Array.from({ length: count }, () => jwt.sign({ sub: randomUUID(), sid: randomUUID(), role: 'user' }, ACCESS_TOKEN_SECRET, { expiresIn: '15m' }));
  handlers.user = async () => ({ email: EMAIL, password: PASSWORD });
  handlers.sessions = async ({ count }) => {
    const tokens = [];
    for (let i = 0; i < count; i++) tokens.push((await login(EMAIL, PASSWORD)).refreshToken);
    return tokens;
  };
  const port = await listen(app);
  const close = cleanup;
  cleanup = async () => {
    await close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return port;
}

/**
 * A careful hand-written server, as an experienced engineer would write it without an auth
 * library: Express 5 + jsonwebtoken (HS256 access tokens, 15 min) + better-sqlite3 with
 * prepared statements, WAL at the same `synchronous` as the Latchkey side, users held in
 * memory (loaded at start), opaque random refresh tokens in an httpOnly cookie, stored as
 * SHA-256 and rotated by one compare-and-swap UPDATE inside one transaction (the old hash must
 * still be current and unexpired). No audit log, no reuse detection, no grace window, no rate
 * limits, no request log: less work than Latchkey does per refresh, on purpose.
 */
async function handwrittenApp() {
  const { default: express } = await import('express');
  const { default: jwt } = await import('jsonwebtoken');
  const { parse: parseCookie } = await import('cookie');
  const { default: Database } = await import('better-sqlite3');
  const argon2 = await import('@node-rs/argon2');
  const { createHash } = await import('node:crypto');
  const ACCESS_SECRET = randomBytes(32);
  const REFRESH_TTL_MS = 30 * 86_400_000;
  const dir = mkdtempSync(join(tmpdir(), 'handwritten-bench-'));
  const db = new Database(join(dir, 'app.db'));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${SQLITE_SYNCHRONOUS}`);
  db.exec(`create table users (id text primary key, email text unique not null, password_hash text not null, role text not null);
           create table refresh_tokens (id integer primary key, user_id text not null, token_hash blob unique not null, expires_at integer not null)`);
  const insertUser = db.prepare('insert into users values (?, ?, ?, ?)');
  const insertToken = db.prepare('insert into refresh_tokens (user_id, token_hash, expires_at) values (?, ?, ?)');
  const rotate = db.prepare('update refresh_tokens set token_hash = ?, expires_at = ? where token_hash = ? and expires_at > ? returning user_id');
  const rotateTx = db.transaction((oldHash, newHash, now) => rotate.get(newHash, now + REFRESH_TTL_MS, oldHash, now));
  const hash = (token) => createHash('sha256').update(token).digest();
  const users = new Map(); // email → user, loaded at start
  const usersById = new Map();
  const user = {
    id: randomUUID(),
    email: EMAIL,
    role: 'user',
    passwordHash: await argon2.hash(PASSWORD, { algorithm: argon2.Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 }),
  };
  insertUser.run(user.id, user.email, user.passwordHash, user.role);
  for (const row of db.prepare('select * from users').all()) {
    const u = { id: row.id, email: row.email, role: row.role, passwordHash: row.password_hash };
    users.set(u.email, u);
    usersById.set(u.id, u);
  }
  const accessToken = (u) => jwt.sign({ sub: u.id, role: u.role }, ACCESS_SECRET, { algorithm: 'HS256', expiresIn: '15m' });
  function newSession(u) {
    const token = randomBytes(32).toString('base64url');
    insertToken.run(u.id, hash(token), Date.now() + REFRESH_TTL_MS);
    return token;
  }
  const cookieOptions = { httpOnly: true, secure: false, sameSite: 'strict', path: '/auth', maxAge: REFRESH_TTL_MS };

  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
  app.post('/auth/login', express.json({ limit: '16kb' }), async (req, res) => {
    const u = users.get(String(req.body?.email ?? ''));
    if (!u || !(await argon2.verify(u.passwordHash, String(req.body?.password ?? '')))) return res.status(401).json({ error: 'INVALID_CREDENTIALS' });
    res.cookie('refreshToken', newSession(u), cookieOptions);
    res.json({ accessToken: accessToken(u) });
  });
  app.post('/auth/refresh', (req, res) => {
    const presented = parseCookie(req.headers.cookie ?? '').refreshToken;
    if (!presented) return res.status(401).json({ error: 'NO_REFRESH_TOKEN' });
    const next = randomBytes(32).toString('base64url');
    const row = rotateTx(hash(presented), hash(next), Date.now());
    const u = row && usersById.get(row.user_id);
    if (!u) return res.status(401).json({ error: 'INVALID_REFRESH_TOKEN' });
    res.cookie('refreshToken', next, cookieOptions);
    res.json({ accessToken: accessToken(u) });
  });
  handlers.user = async () => ({ email: EMAIL, password: PASSWORD });
  handlers.sessions = async ({ count }) => Array.from({ length: count }, () => newSession(user));
  const port = await listen(app);
  const close = cleanup;
  cleanup = async () => {
    await close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return port;
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

// Never outlive the load generator (a killed parent would leave this server running).
process.on('disconnect', () => {
  cleanup()
    .catch(() => undefined)
    .finally(() => process.exit(0));
});

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

const apps = { fastify: fastifyApp, express: expressApp, tutorial: tutorialApp, handwritten: handwrittenApp };
if (!apps[kind]) throw new Error(`unknown server kind ${kind}`);
const port = await apps[kind]();
process.send({ type: 'ready', port });
