/**
 * Node-side helpers for the client SDK tests: a cookie jar in front of the real `fetch`
 * (Node's fetch keeps no cookies, a browser does), a request log, and an in-memory
 * stand-in for `navigator.locks` shared by the "tabs" of one test.
 */
export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  authorization: string | null;
}

export interface Jar {
  cookies: Map<string, string>;
  log: LoggedRequest[];
  count(path: string): number;
  /** A fetch for one "tab": shared jar and log; `intercept` may answer instead of the server. */
  fetch(intercept?: (request: Request) => Promise<Response | undefined> | Response | undefined): typeof fetch;
}

export function cookieJar(): Jar {
  const cookies = new Map<string, string>();
  const log: LoggedRequest[] = [];
  return {
    cookies,
    log,
    count: (path) => log.filter((entry) => entry.path === path).length,
    fetch(intercept) {
      return async (input, init) => {
        const request = new Request(input, init);
        const path = new URL(request.url).pathname;
        const authorization = request.headers.get('authorization');
        const intercepted = intercept ? await intercept(request.clone()) : undefined;
        if (intercepted) {
          log.push({ method: request.method, path, status: intercepted.status, authorization });
          return intercepted;
        }
        const headers = new Headers(request.headers);
        if (cookies.size > 0) headers.set('cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
        const response = await fetch(new Request(request, { headers }));
        for (const raw of response.headers.getSetCookie()) {
          const [pair = ''] = raw.split(';');
          const eq = pair.indexOf('=');
          const name = pair.slice(0, eq).trim();
          const cleared = /;\s*max-age=0(\s*;|$)/i.test(raw) || pair.slice(eq + 1) === '';
          if (cleared) cookies.delete(name);
          else cookies.set(name, pair.slice(eq + 1));
        }
        log.push({ method: request.method, path, status: response.status, authorization });
        return response;
      };
    },
  };
}

/** A FIFO exclusive lock per name, like `navigator.locks.request(name, callback)`. */
export function memoryLocks(): LockManager {
  const tails = new Map<string, Promise<unknown>>();
  const manager = {
    request(name: string, optionsOrCallback: unknown, maybeCallback?: unknown): Promise<unknown> {
      const callback = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as (lock: unknown) => unknown;
      const previous = tails.get(name) ?? Promise.resolve();
      const run = previous.then(() => callback({ name, mode: 'exclusive' }));
      tails.set(
        name,
        run.catch(() => undefined),
      );
      return run;
    },
    async query() {
      return { held: [], pending: [] };
    },
  };
  return manager as unknown as LockManager;
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** Polls `condition` (real time) until true; fails after `timeoutMs`. */
export async function eventually(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
