/**
 * `GET /decoder` — the local-only JWT decoder page (docs/decoder.md), one static file built by
 * `web/decoder/build.mjs`, sent with the CSP computed at build time (`connect-src 'none'`).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

export interface DecoderRoutesOptions {
  /** Path of the built `decoder.html`; `decoder.csp` must sit beside it. Default: `dist/web/` next to the compiled module. */
  htmlPath?: string;
}

interface Page {
  html: string;
  csp: string;
}

function candidates(opts: DecoderRoutesOptions): string[] {
  if (opts.htmlPath) return [opts.htmlPath];
  return [
    // dist/http/routes/decoder.js → dist/web/decoder.html
    fileURLToPath(new URL('../../web/decoder.html', import.meta.url)),
    // src/http/routes/decoder.ts run through tsx → dist/web/decoder.html
    fileURLToPath(new URL('../../../dist/web/decoder.html', import.meta.url)),
  ];
}

async function loadPage(paths: string[]): Promise<Page | undefined> {
  for (const path of paths) {
    try {
      const [html, csp] = await Promise.all([readFile(path, 'utf8'), readFile(path.replace(/\.html$/, '.csp'), 'utf8')]);
      return { html, csp: csp.trim() };
    } catch {
      // try the next location
    }
  }
  return undefined;
}

export async function decoderRoutes(app: FastifyInstance, opts: DecoderRoutesOptions = {}): Promise<void> {
  const paths = candidates(opts);
  let page = await loadPage(paths);
  app.get('/decoder', async (_request, reply) => {
    page ??= await loadPage(paths);
    reply.header('Referrer-Policy', 'no-referrer').header('X-Content-Type-Options', 'nosniff').header('Cache-Control', 'no-store');
    if (!page) {
      return reply.code(503).send({ error: 'UNAVAILABLE', message: 'The decoder page is not built; run npm run build.' });
    }
    return reply
      .header('Content-Security-Policy', page.csp)
      .header('X-Frame-Options', 'DENY')
      .header('Cross-Origin-Opener-Policy', 'same-origin')
      .type('text/html; charset=utf-8')
      .send(page.html);
  });
}
