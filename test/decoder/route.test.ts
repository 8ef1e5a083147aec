import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import build from '../../web/decoder/build.mjs';
import { decoderRoutes } from '../../src/http/routes/decoder.js';

const root = join(import.meta.dirname, '..', '..');
const outDir = mkdtempSync(join(tmpdir(), 'lk-decoder-route-'));

describe('GET /decoder (no browser)', () => {
  beforeAll(async () => {
    await build({ root, outDir });
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it('serves one self-contained file with the build-time CSP in header and meta', async () => {
    const app = Fastify();
    await app.register(decoderRoutes, { htmlPath: join(outDir, 'decoder.html') });
    const res = await app.inject('/decoder');
    const csp = readFileSync(join(outDir, 'decoder.csp'), 'utf8').trim();
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBe(csp);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
    const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(res.body)?.[1];
    expect(meta).toBe(csp.replace("; frame-ancestors 'none'", ''));
    // The inline script/style hashes in the CSP match what is inlined.
    const { createHash } = await import('node:crypto');
    const script = /<script>([\s\S]*)<\/script>/.exec(res.body)![1]!;
    const style = /<style>([\s\S]*)<\/style>/.exec(res.body)![1]!;
    expect(csp).toContain(`'sha256-${createHash('sha256').update(script).digest('base64')}'`);
    expect(csp).toContain(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(res.body).not.toMatch(/\bsrc=|<link\b/i);
    expect(res.body).not.toMatch(/localStorage|sessionStorage|document\.cookie|innerHTML|XMLHttpRequest|sendBeacon|WebSocket/);
    await app.close();
  });

  it('answers 503 UNAVAILABLE when the page is not built', async () => {
    const app = Fastify();
    await app.register(decoderRoutes, { htmlPath: join(outDir, 'missing.html') });
    const res = await app.inject('/decoder');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ error: 'UNAVAILABLE', message: expect.any(String) });
    await app.close();
  });
});
