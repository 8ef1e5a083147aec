/**
 * A real OpenID Provider for the tests: panva's oidc-provider (OpenID Certified), started on a
 * loopback port with one client (Latchkey) and test accounts, and its own login and consent pages
 * (devInteractions: any login name is an account, any password passes). Nothing of the protocol
 * is mocked. `signInAt` fills those pages over HTTP the way a browser would (cookies kept per
 * origin); the Chromium test clicks through them instead.
 *
 * oidc-provider prints an "unsupported runtime" warning on Node 20 and a development-keys and
 * devInteractions warning; it works.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Provider, { type AccountClaims } from 'oidc-provider';
import { freePort } from '../helpers/ports.js';

export interface RealProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Claims of the accounts by login name; unknown names get `<name>@idp.example`, verified. */
  accounts: Map<string, Omit<AccountClaims, 'sub'>>;
  close(): Promise<void>;
}

export async function startRealProvider(options: { redirectUris: string[]; port?: number }): Promise<RealProvider> {
  const port = options.port ?? (await freePort());
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'latchkey';
  const clientSecret = randomBytes(24).toString('hex');
  const accounts = new Map<string, Omit<AccountClaims, 'sub'>>();
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        claims: async () => ({ sub: id, ...(accounts.get(id) ?? { email: `${id}@idp.example`, email_verified: true }) }),
      };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 300, IdToken: 300, AuthorizationCode: 60 },
  });
  // Quiet: errors the tests provoke are answered, not thrown.
  provider.on('server_error', () => undefined);
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A cookie jar of one origin: enough for the provider's interaction cookies. */
class Jar {
  readonly #cookies = new Map<string, string>();
  take(headers: Headers): void {
    for (const raw of headers.getSetCookie()) {
      const [pair = ''] = raw.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(raw) || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * Follows the provider's pages from the authorization URL: the login form (as `login`), the
 * consent form, until the provider redirects to a URL outside itself (our callback); returns it.
 */
export async function signInAt(provider: RealProvider, authorizationUrl: string, login: string): Promise<URL> {
  const jar = new Jar();
  let url = new URL(authorizationUrl);
  let method = 'GET';
  let body: string | undefined;
  for (let step = 0; step < 20; step++) {
    const response = await fetch(url, {
      method,
      redirect: 'manual',
      headers: { cookie: jar.header(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(body ? { body } : {}),
    });
    jar.take(response.headers);
    const location = response.headers.get('location');
    if (location) {
      const next = new URL(location, url);
      await response.arrayBuffer();
      if (next.origin !== provider.issuer) return next;
      url = next;
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`unexpected provider page (${response.status}): ${html.slice(0, 200)}`);
    url = new URL(action.replace(/&amp;/g, '&'), url);
    method = 'POST';
    body = new URLSearchParams(prompt === 'login' ? { prompt, login, password: 'any' } : { prompt }).toString();
  }
  throw new Error('the provider never redirected back');
}
