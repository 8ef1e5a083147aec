/**
 * Driving a provider sign-in over HTTP the way a browser does, one hop at a time (redirects not
 * followed, cookies passed explicitly): start → the provider → the callback.
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { parseSetCookie, type SetCookie } from '../helpers/http-client.js';
import type { TestServer } from '../helpers/server.js';

export interface Hop {
  status: number;
  location: string | null;
  cookies: SetCookie[];
  body: any;
}

async function hop(url: string | URL, headers: Record<string, string> = {}): Promise<Hop> {
  const response = await fetch(url, { redirect: 'manual', headers });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: response.status, location: response.headers.get('location'), cookies: response.headers.getSetCookie().map(parseSetCookie), body };
}

export const cookiePair = (cookie: SetCookie) => `${cookie.name}=${encodeURIComponent(cookie.value)}`;

/** `GET /auth/oauth/<provider>/start`: the answer, and the flow cookie as a `Cookie` header value. */
export async function start(t: TestServer, provider: string, query: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const url = new URL(`/auth/oauth/${provider}/start`, t.baseUrl);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const answer = await hop(url, headers);
  const flow = answer.cookies.find((c) => c.name.endsWith('latchkey-oauth'));
  return { ...answer, flowCookie: flow ? cookiePair(flow) : undefined, flow };
}

/** The provider's answer to the authorization URL, when it redirects straight back (the stand-ins do). */
export async function authorize(location: string): Promise<URL> {
  const answer = await hop(location);
  if (answer.status !== 302 || !answer.location) throw new Error(`the provider answered ${answer.status}`);
  return new URL(answer.location);
}

/**
 * The callback the provider redirected to, sent to the test server. The redirect URI is built on
 * `LATCHKEY_ISSUER` (http://localhost:3000 in tests), not on the test server's port: only its path
 * and query are replayed against the server.
 */
export async function callback(t: TestServer, providerRedirect: URL, cookie: string | undefined): Promise<Hop> {
  return hop(new URL(`${providerRedirect.pathname}${providerRedirect.search}`, t.baseUrl), cookie ? { cookie } : {});
}

/** The whole flow with a provider that redirects straight back. */
export async function signIn(t: TestServer, provider: string, query: Record<string, string> = {}) {
  const started = await start(t, provider, query);
  if (started.status !== 302) throw new Error(`start answered ${started.status} ${JSON.stringify(started.body)}`);
  const back = await authorize(started.location!);
  return { started, back, answer: await callback(t, back, started.flowCookie) };
}

/** Rows of `sessions` in the test server's SQLite file (every session ever created). */
export function sessionCount(t: TestServer): number {
  const db = new BetterSqlite3(join(t.dir, 'latchkey.db'), { readonly: true });
  try {
    return (db.prepare('select count(*) as n from sessions').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

export const refreshCookieOf = (answer: Hop) => answer.cookies.find((c) => c.name === '__Secure-refreshToken');
