/**
 * The answers that Fastify and Node's HTTP parser give on their own — a badly percent-encoded
 * path, an over-long path parameter, malformed JSON, a wrong content type, a body too large, an
 * unknown route or method, a malformed request line, headers too large, a request that never
 * completes — follow the same error contract as the routes' own answers: `{error, message}` with
 * a code of docs/errors.md and its status, nothing of the request echoed back, the security
 * headers, and one log line each that does not quote the request either.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { ERROR_CODES } from '../../src/errors.js';
import { rawHttp } from './helpers.js';

/** A string that must never come back in an answer or reach the log. */
const MARK = 'EchoMark7f3a';

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function parse(text: string): Parsed {
  const [head = '', ...rest] = text.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: rest.join('\r\n\r\n') };
}

/** Opens a connection, sends `bytes`, keeps it open and returns whatever the server answers before it closes it. */
function sendAndWait(port: number, bytes: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer'));
    }, timeoutMs);
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(bytes);
  });
}

describe('attacks: the framework’s own errors keep the error contract', () => {
  let t: TestServer;
  let port: number;
  let logged = '';
  beforeAll(async () => {
    const logStream = new PassThrough();
    logStream.on('data', (chunk) => (logged += chunk.toString()));
    t = await startTestServer({ logStream, requestTimeout: 1, headersTimeout: 1 });
    port = Number(new URL(t.baseUrl).port);
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The log lines written since `mark`, once the server had a moment to write them. */
  async function logSince(mark: number): Promise<Array<Record<string, unknown>>> {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return logged
      .slice(mark)
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  function expectContract(answer: Parsed, status: number, code: keyof typeof ERROR_CODES, what: string): void {
    expect(answer.status, what).toBe(status);
    expect(ERROR_CODES[code].status, `${code} is documented with ${status}`).toBe(status);
    const body = JSON.parse(answer.body) as Record<string, unknown>;
    expect(Object.keys(body).sort(), what).toEqual(['error', 'message']);
    expect(body.error, what).toBe(code);
    expect(typeof body.message, what).toBe('string');
    expect(answer.headers['content-type'], what).toBe('application/json; charset=utf-8');
    expect(answer.headers['x-content-type-options'], what).toBe('nosniff');
    expect(answer.headers['cache-control'], what).toBe('no-store');
    expect(`${answer.body}\n${JSON.stringify(answer.headers)}`, `${what} echoes the request`).not.toContain(MARK);
  }

  const cases: Array<[string, string, number, keyof typeof ERROR_CODES]> = [
    ['bad percent-encoding', `GET /auth/sessions/%E0%A4${MARK} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 400, 'VALIDATION_FAILED'],
    ['bad percent-encoding at the root', `GET /%zz${MARK} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 400, 'VALIDATION_FAILED'],
    [
      'a 10 KB path parameter',
      `DELETE /auth/sessions/${MARK.repeat(900)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      400,
      'VALIDATION_FAILED',
    ],
    [
      'malformed JSON',
      `POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${MARK.length + 2}\r\nConnection: close\r\n\r\n{"${MARK}`,
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a wrong content type',
      `POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: text/${MARK}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi`,
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a body over 16 KiB',
      `POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n${MARK.repeat(1700)}`,
      413,
      'PAYLOAD_TOO_LARGE',
    ],
    ['an unknown route', `GET /${MARK} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 404, 'NOT_FOUND'],
    ['a method the route does not have', `PUT /auth/login?${MARK} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 404, 'NOT_FOUND'],
    ['a malformed request line', `GET /${MARK} HTTP/9\r\nHost: x\r\n\r\n`, 400, 'VALIDATION_FAILED'],
    ['headers too large', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-${MARK}: ${'a'.repeat(70_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
    [
      'both Content-Length and Transfer-Encoding',
      `POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${MARK}`,
      400,
      'VALIDATION_FAILED',
    ],
  ];

  it.each(cases)('%s: the contract body, the security headers, no echo, one log line', async (what, request, status, code) => {
    const mark = logged.length;
    const answer = parse((await rawHttp(t.baseUrl, request)).text);
    expectContract(answer, status, code, what);
    const lines = await logSince(mark);
    expect(
      lines.filter((line) => line.status === status),
      `${what}: one log line with status ${status} in ${JSON.stringify(lines)}`,
    ).toHaveLength(1);
    // The log may name the path (up to any `?`, `#` or `;`, at most 200 characters), never more of the request.
    const path = request.split(' ', 2)[1]!.split(/[?#;]/, 1)[0]!;
    for (const line of lines) expect(String(line.path ?? '').length, `${what}: logged path`).toBeLessThanOrEqual(200);
    if (!path.includes(MARK)) expect(JSON.stringify(lines), `${what}: the log quotes the request`).not.toContain(MARK);
    expect((await rawHttp(t.baseUrl, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status).toBe(200);
  });

  it('a request that never completes: 408 REQUEST_TIMEOUT with the contract body and a log line', async () => {
    const mark = logged.length;
    const text = await sendAndWait(port, `GET /${MARK} HTTP/1.1\r\nHost: x\r\n`, 15_000);
    expectContract(parse(text), 408, 'REQUEST_TIMEOUT', 'timeout');
    const lines = await logSince(mark);
    expect(lines.filter((line) => line.status === 408)).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain(MARK);
  });
});
