/**
 * A small HTTP client for tests over real sockets: JSON in and out, Set-Cookie parsed,
 * no cookie jar (tests pass cookies explicitly, so every request shows what it sends).
 */
export interface SetCookie {
  name: string;
  value: string;
  attributes: Record<string, string | true>;
  raw: string;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
  cookies: SetCookie[];
}

export function parseSetCookie(raw: string): SetCookie {
  const [pair = '', ...attrs] = raw.split(';').map((p) => p.trim());
  const eq = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const attr of attrs) {
    const i = attr.indexOf('=');
    if (i === -1) attributes[attr.toLowerCase()] = true;
    else attributes[attr.slice(0, i).toLowerCase()] = attr.slice(i + 1);
  }
  return { name: pair.slice(0, eq), value: decodeURIComponent(pair.slice(eq + 1)), attributes, raw };
}

export interface RequestOptions {
  body?: unknown;
  /** Sent as-is (not JSON-encoded) when a string or Buffer is wanted. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  bearer?: string;
  cookie?: string;
}

export class TestClient {
  constructor(readonly baseUrl: string) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | Buffer | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    if (options.bearer !== undefined) headers.authorization = `Bearer ${options.bearer}`;
    if (options.cookie !== undefined) headers.cookie = options.cookie;
    const response = await fetch(new URL(path, this.baseUrl), { method, headers, body: body as BodyInit | undefined });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return {
      status: response.status,
      headers: response.headers,
      body: parsed,
      text,
      cookies: response.headers.getSetCookie().map(parseSetCookie),
    };
  }

  get(path: string, options?: RequestOptions) {
    return this.request('GET', path, options);
  }

  post(path: string, options?: RequestOptions) {
    return this.request('POST', path, options);
  }

  patch(path: string, options?: RequestOptions) {
    return this.request('PATCH', path, options);
  }

  delete(path: string, options?: RequestOptions) {
    return this.request('DELETE', path, options);
  }
}
