/**
 * The request log names a route's pattern, or the path up to the first `?`, `#` or `;` — never
 * more. Browsers never send a fragment, but a raw request line can (`GET /decoder#token=…`), and
 * matrix parameters (`;token=…`) are a classic way tokens end up in URLs; neither may reach the
 * log. Sent over a raw socket, as a careless client or a crafted link would.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { PassThrough } from 'node:stream';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { signUp } from '../http/contract.js';
import { rawHttp } from './helpers.js';

describe('attacks: the request log never holds what follows the path', () => {
  let t: TestServer;
  let logged = '';
  let jwt: string;
  beforeAll(async () => {
    const logStream = new PassThrough();
    logStream.on('data', (chunk) => (logged += chunk.toString()));
    t = await startTestServer({ logStream });
    jwt = (await signUp(t.client)).accessToken;
  });
  afterAll(async () => {
    await t?.close();
  });

  async function linesFor(requestLine: string): Promise<Array<Record<string, unknown>>> {
    const mark = logged.length;
    const answer = await rawHttp(t.baseUrl, `${requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(answer.status, requestLine).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    return logged
      .slice(mark)
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  const signature = () => jwt.split('.')[2]!;

  it.each([
    ['GET /decoder#token=%s HTTP/1.1', '/decoder'],
    ['GET /decoder;token=%s HTTP/1.1', '/decoder'],
    ['GET /decoder?x=1#token=%s HTTP/1.1', '/decoder'],
    ['GET /healthz;token=%s HTTP/1.1', '/healthz'],
    ['GET /auth/me#access_token=%s HTTP/1.1', '/auth/me'],
    ['GET /nowhere;jsessionid=%s HTTP/1.1', '/nowhere'],
    ['GET /nowhere#%s HTTP/1.1', '/nowhere'],
  ])('%s: one line, the token nowhere in the log', async (template, expected) => {
    const lines = await linesFor(template.replace('%s', jwt));
    const requests = lines.filter((line) => line.msg === 'request');
    expect(requests, JSON.stringify(lines)).toHaveLength(1);
    expect(requests[0]!.path).toBe(expected);
    const text = lines.map((line) => JSON.stringify(line)).join('\n');
    expect(text).not.toContain(jwt);
    expect(text).not.toContain(signature());
    expect(text).not.toContain('token=');
  });

  it('a routed request is logged by its route pattern, not by the values in its path', async () => {
    const id = 'sess_0123456789abcdefSecretish';
    const lines = await linesFor(`DELETE /auth/sessions/${id} HTTP/1.1\r\nAuthorization: Bearer ${jwt}`);
    const request = lines.find((line) => line.msg === 'request');
    expect(request?.path).toBe('/auth/sessions/:id');
    expect(JSON.stringify(lines)).not.toContain(id);
  });
});
