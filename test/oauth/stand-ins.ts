/**
 * Stand-ins for identity providers, for what a real provider never does on request:
 *
 * - `startStandInIssuer`: a minimal OpenID provider (discovery, JWKS, authorize, token,
 *   userinfo) signing ES256 ID tokens with jose. Its ID tokens can be tampered with per test —
 *   wrong `aud`, wrong `iss`, a bad signature, another `nonce`, `alg: none`, expired — which
 *   panva's certified oidc-provider (the real provider of the other tests) will not issue. The
 *   protocol checks are the client's (openid-client); this only sends what an attacker or a
 *   broken provider would. It also answers slowly on request (timeouts).
 * - `startGithubStandIn`: GitHub's OAuth endpoints (`/login/oauth/authorize`,
 *   `/login/oauth/access_token`) and REST API (`/user`, `/user/emails`) as GitHub documents
 *   them. GitHub itself is unreachable from this machine; the preset's base URLs point here.
 *
 * Codes are single use and bound to the PKCE challenge, like real providers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface StandInAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
}

/** How the next ID tokens are spoiled (`none`: honest tokens). */
export type Tamper = 'none' | 'wrong_aud' | 'wrong_iss' | 'bad_signature' | 'wrong_nonce' | 'alg_none' | 'expired' | 'other_key';

export interface StandInIssuer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The account the next authorization signs in. */
  account: StandInAccount;
  tamper: Tamper;
  /** Milliseconds the answers of `delayPaths` (every path when empty) wait before they are sent (0: none). */
  delayMs: number;
  delayPaths: string[];
  /** Requests the stand-in received, by path (`/token`, `/.well-known/openid-configuration`). */
  hits: Map<string, number>;
  /** A different `iss` in the authorization response (RFC 9207), when set. */
  responseIss: string | undefined;
  close(): Promise<void>;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      data += chunk;
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(value));
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
    });
  });
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string | null;
  account: StandInAccount;
}

const pkceOk = (verifier: string | null, challenge: string) =>
  verifier !== null && createHash('sha256').update(verifier).digest('base64url') === challenge;

export async function startStandInIssuer(): Promise<StandInIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const codes = new Map<string, PendingCode>();
  const tokens = new Map<string, StandInAccount>();
  const server = createServer();
  const issuer = await listen(server);
  const standIn: StandInIssuer = {
    issuer,
    clientId: 'latchkey-test',
    clientSecret: randomBytes(16).toString('hex'),
    account: { sub: 'user-1', email: 'user-1@idp.example', email_verified: true },
    tamper: 'none',
    delayMs: 0,
    delayPaths: [],
    hits: new Map(),
    responseIss: undefined,
    close: closer(server),
  };

  async function idToken(code: PendingCode): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const t = standIn.tamper;
    const claims: Record<string, unknown> = {
      sub: code.account.sub,
      ...(code.account.email === undefined ? {} : { email: code.account.email }),
      ...(code.account.email_verified === undefined ? {} : { email_verified: code.account.email_verified }),
      nonce: t === 'wrong_nonce' ? 'another-nonce' : code.nonce,
    };
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
      .setIssuer(t === 'wrong_iss' ? 'https://evil.example' : issuer)
      .setAudience(t === 'wrong_aud' ? 'another-client' : code.clientId)
      .setIssuedAt(t === 'expired' ? now - 3600 : now)
      .setExpirationTime(t === 'expired' ? now - 120 : now + 300);
    const signed = await jwt.sign(t === 'other_key' ? other.privateKey : privateKey);
    const [header, payload, signature] = signed.split('.') as [string, string, string];
    if (t === 'bad_signature') {
      // The same header and claims, one signature byte flipped.
      const bytes = Buffer.from(signature, 'base64url');
      bytes[0]! ^= 1;
      return `${header}.${payload}.${b64url(bytes)}`;
    }
    if (t === 'alg_none') return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`;
    return signed;
  }

  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    standIn.hits.set(url.pathname, (standIn.hits.get(url.pathname) ?? 0) + 1);
    const handle = async () => {
      const slow = standIn.delayPaths.length === 0 || standIn.delayPaths.includes(url.pathname);
      if (standIn.delayMs > 0 && slow) await new Promise((resolve) => setTimeout(resolve, standIn.delayMs));
      if (res.destroyed) return;
      switch (url.pathname) {
        case '/.well-known/openid-configuration':
          return json(res, 200, {
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
            userinfo_endpoint: `${issuer}/userinfo`,
            jwks_uri: `${issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['ES256'],
            token_endpoint_auth_methods_supported: ['client_secret_basic'],
            code_challenge_methods_supported: ['S256'],
            authorization_response_iss_parameter_supported: true,
          });
        case '/jwks':
          return json(res, 200, { keys: [jwk] });
        case '/authorize': {
          const q = url.searchParams;
          const code = randomBytes(16).toString('base64url');
          codes.set(code, {
            clientId: q.get('client_id') ?? '',
            redirectUri: q.get('redirect_uri') ?? '',
            challenge: q.get('code_challenge') ?? '',
            nonce: q.get('nonce'),
            account: { ...standIn.account },
          });
          const back = new URL(q.get('redirect_uri') ?? '');
          back.searchParams.set('code', code);
          back.searchParams.set('state', q.get('state') ?? '');
          back.searchParams.set('iss', standIn.responseIss ?? issuer);
          res.writeHead(302, { location: back.href });
          return res.end();
        }
        case '/token': {
          const form = new URLSearchParams(await readBody(req));
          const basic = Buffer.from(String(req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
          const [id, secret] = basic.split(':').map((part) => decodeURIComponent(part));
          if (id !== standIn.clientId || secret !== standIn.clientSecret) return json(res, 401, { error: 'invalid_client' });
          const code = codes.get(form.get('code') ?? '');
          codes.delete(form.get('code') ?? ''); // single use, even when refused
          if (!code || code.redirectUri !== form.get('redirect_uri') || !pkceOk(form.get('code_verifier'), code.challenge)) {
            return json(res, 400, { error: 'invalid_grant' });
          }
          const accessToken = randomBytes(16).toString('base64url');
          tokens.set(accessToken, code.account);
          return json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: await idToken(code) });
        }
        case '/userinfo': {
          const account = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
          if (!account) return json(res, 401, { error: 'invalid_token' });
          return json(res, 200, account);
        }
        default:
          return json(res, 404, { error: 'not_found' });
      }
    };
    handle().catch(() => res.destroy());
  });
  return standIn;
}

export interface GithubAccount {
  id: number;
  login: string;
  emails: Array<{ email: string; primary: boolean; verified: boolean; visibility: string | null }>;
}

export interface GithubStandIn {
  /** The stand-in of https://github.com. */
  webUrl: string;
  /** The stand-in of https://api.github.com. */
  apiUrl: string;
  clientId: string;
  clientSecret: string;
  account: GithubAccount;
  /** The user agent and API version header of each REST call. */
  apiRequests: Array<{ path: string; userAgent: string | undefined; accept: string | undefined }>;
  close(): Promise<void>;
}

export async function startGithubStandIn(): Promise<GithubStandIn> {
  const codes = new Map<string, { challenge: string; redirectUri: string; account: GithubAccount }>();
  const tokens = new Map<string, GithubAccount>();
  const server = createServer();
  const base = await listen(server);
  const standIn: GithubStandIn = {
    webUrl: base,
    apiUrl: `${base}/api`,
    clientId: 'Iv1.standin',
    clientSecret: randomBytes(20).toString('hex'),
    account: { id: 4242, login: 'octo', emails: [{ email: 'octo@users.example', primary: true, verified: true, visibility: 'public' }] },
    apiRequests: [],
    close: closer(server),
  };
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', base);
    const handle = async () => {
      if (url.pathname === '/login/oauth/authorize') {
        const code = randomBytes(10).toString('hex');
        codes.set(code, {
          challenge: url.searchParams.get('code_challenge') ?? '',
          redirectUri: url.searchParams.get('redirect_uri') ?? '',
          account: structuredClone(standIn.account),
        });
        const back = new URL(url.searchParams.get('redirect_uri') ?? '');
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req));
        const code = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        // GitHub answers 200 with an error object for a bad code.
        if (form.get('client_id') !== standIn.clientId || form.get('client_secret') !== standIn.clientSecret) {
          return json(res, 200, { error: 'incorrect_client_credentials' });
        }
        if (!code || code.redirectUri !== form.get('redirect_uri') || !pkceOk(form.get('code_verifier'), code.challenge)) {
          return json(res, 200, { error: 'bad_verification_code' });
        }
        const token = `gho_${randomBytes(18).toString('hex')}`;
        tokens.set(token, code.account);
        return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      }
      if (url.pathname === '/api/user' || url.pathname === '/api/user/emails') {
        standIn.apiRequests.push({ path: url.pathname, userAgent: req.headers['user-agent'], accept: req.headers.accept });
        const account = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
        if (!account) return json(res, 401, { message: 'Bad credentials' });
        if (url.pathname === '/api/user') return json(res, 200, { id: account.id, login: account.login, email: null });
        return json(res, 200, account.emails);
      }
      return json(res, 404, { message: 'Not Found' });
    };
    handle().catch(() => res.destroy());
  });
  return standIn;
}
