/**
 * Shared tools of the attack suite: a client that checks every answer for leaks and 5xx,
 * token forging with node:crypto, and the server's own signing key for "insider" forgeries
 * (tokens that are correctly signed but carry one anomaly, so that only the check under test
 * can refuse them).
 */
import { expect } from 'vitest';
import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import type { TestServer } from '../helpers/server.js';
import { TestClient, type RequestOptions, type TestResponse } from '../helpers/http-client.js';

export const b64u = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

const decodeSegment = (segment: string): Record<string, unknown> => JSON.parse(Buffer.from(segment, 'base64url').toString());

/**
 * A client that fails the test when any answer is a 5xx (unless allowed) or contains one of
 * the registered secrets (tokens, passwords, the master secret) in its body or headers
 * other than the ones that legitimately carry them.
 */
export class GuardedClient extends TestClient {
  readonly secrets = new Set<string>();
  responses = 0;

  constructor(baseUrl: string, secrets: Iterable<string> = []) {
    super(baseUrl);
    for (const secret of secrets) this.guard(secret);
  }

  /** Registers a value that must never appear in an error answer. */
  guard(secret: string | undefined): void {
    if (secret && secret.length >= 8) this.secrets.add(secret);
  }

  override async request(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const res = await super.request(method, path, options);
    this.responses++;
    expect(res.status, `${method} ${path} answered ${res.status}`).toBeLessThan(500);
    if (res.status >= 400) {
      const visible = `${res.text}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}`;
      for (const secret of this.secrets) {
        expect(visible.includes(secret), `${method} ${path} ${res.status} leaks a secret`).toBe(false);
        const half = secret.slice(0, Math.max(8, Math.floor(secret.length / 2)));
        expect(visible.includes(half), `${method} ${path} ${res.status} leaks part of a secret`).toBe(false);
      }
      // Every error answer, the HTTP parser's too, has the contract body (docs/errors.md).
      expect(res.body, `${method} ${path} ${res.status} is not JSON`).toBeTypeOf('object');
      expect(typeof res.body.error).toBe('string');
      expect(typeof res.body.message).toBe('string');
    }
    return res;
  }
}

/** Signs `header.payload` (already encoded segments) with the server's current private key. */
export function insiderSign(t: TestServer, headerSegment: string, payloadSegment: string): string {
  const { alg, key } = t.latchkey.keys.signingKey;
  const input = `${headerSegment}.${payloadSegment}`;
  return `${input}.${rawSign(alg, key, input).toString('base64url')}`;
}

export function rawSign(alg: string, key: KeyObject, input: string, dsaEncoding: 'ieee-p1363' | 'der' = 'ieee-p1363'): Buffer {
  if (alg === 'ES256') return cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding });
  if (alg === 'EdDSA') return cryptoSign(null, Buffer.from(input), key);
  if (alg === 'RS256') return cryptoSign('sha256', Buffer.from(input), key);
  throw new Error(`insiderSign: ${alg}`);
}

/** The header and claims of a real access token, for building variants. */
export function partsOf(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; signature: string } {
  const [h, p, s] = token.split('.');
  return { header: decodeSegment(h!), claims: decodeSegment(p!), signature: s! };
}

/**
 * Sends bytes as they are over a TCP socket (for requests `fetch` refuses to build, such as
 * header values with a newline) and returns the status line's code and the raw answer.
 */
export async function rawHttp(baseUrl: string, request: string | Buffer, timeoutMs = 10_000): Promise<{ status: number; text: string }> {
  const { connect } = await import('node:net');
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('rawHttp: no answer'));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => undefined); // the server may reset after answering
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    });
    socket.write(request);
    socket.end();
  });
}
