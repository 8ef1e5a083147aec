/**
 * The browser pages built by `scripts/build-web.mjs` into `dist/web/`, each sent with the CSP
 * computed at build time: the demo at `/` and the admin page at `/admin` (docs/admin.md#admin-page).
 * Missing builds answer 404 rather than crash.
 */
import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

/** `dist/web/` from both `src/http/routes` (tests via tsx) and `dist/http/routes`. */
function webDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return join(here, '..', '..', '..', 'dist', 'web');
}

async function readPage(name: string): Promise<string | undefined> {
  try {
    return await readFile(join(webDir(), name), 'utf8');
  } catch {
    return undefined;
  }
}

/** The static pages of web/ by path (the decoder has its own route: decoder.ts). */
export const PAGES = { '/': 'demo', '/admin': 'admin' } as const;

export async function pageRoutes(app: FastifyInstance): Promise<void> {
  for (const [path, name] of Object.entries(PAGES)) {
    app.get(path, async (_request, reply) => {
      const html = await readPage(`${name}.html`);
      if (html === undefined) return reply.callNotFound();
      const csp = (await readPage(`${name}.csp`))?.trim();
      if (csp) reply.header('content-security-policy', csp);
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
    });
  }
}
