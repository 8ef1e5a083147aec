// Shared by the pages in web/: bundles web/<name>/main.ts with esbuild and writes ONE
// self-contained dist/web/<name>.html (inline script and style, no external resource, usable
// from a server or from file://). The CSP hashes of the inline script and style are computed
// here; the policy goes into a <meta> tag and, with frame-ancestors, into <name>.csp for the
// server's header.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build as esbuild } from 'esbuild';

const sha256 = (text) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** CSP; `forMeta` drops directives browsers ignore (and warn about) in a <meta> policy. */
export function contentSecurityPolicy({ scriptHash, styleHash, connectSrc, forMeta, defaultSrc = "'self'", imgSrc = "'none'" }) {
  const directives = [
    `default-src ${defaultSrc}`,
    `script-src ${scriptHash}`,
    `style-src ${styleHash}`,
    `connect-src ${connectSrc}`,
    `img-src ${imgSrc}`,
    "font-src 'none'",
    "media-src 'none'",
    "object-src 'none'",
    "frame-src 'none'",
    "worker-src 'none'",
    "manifest-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ];
  if (!forMeta) directives.push("frame-ancestors 'none'");
  return directives.join('; ');
}

/**
 * @param {{ root: string, outDir: string, name: string, connectSrc: string, defaultSrc?: string, imgSrc?: string }} options
 *   `connectSrc`: the page's `connect-src` source list (`'none'` for the decoder);
 *   `defaultSrc`: its `default-src` (`'self'` unless given);
 *   `imgSrc`: its `img-src` (`'none'` unless given).
 */
export async function buildInlinePage({ root, outDir, name, connectSrc, defaultSrc, imgSrc }) {
  const here = join(root, 'web', name);
  const result = await esbuild({
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const script = result.outputFiles[0].text.replace(/<\/(script)/gi, '<\\/$1').trimEnd();
  if (/<!--|<script/i.test(script)) throw new Error(`${name} bundle contains HTML-significant sequences`);
  const style = (await readFile(join(here, 'style.css'), 'utf8')).trim();
  const template = await readFile(join(here, 'index.html'), 'utf8');
  const scriptHash = sha256(script);
  const styleHash = sha256(style);
  const metaCsp = contentSecurityPolicy({ scriptHash, styleHash, connectSrc, defaultSrc, imgSrc, forMeta: true });
  const headerCsp = contentSecurityPolicy({ scriptHash, styleHash, connectSrc, defaultSrc, imgSrc, forMeta: false });
  // Split/join instead of String.replace: no `$` patterns in the replacement.
  const html = template.split('%CSP%').join(metaCsp).split('%STYLE%').join(style).split('%SCRIPT%').join(script);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, `${name}.html`), html);
  await writeFile(join(outDir, `${name}.csp`), `${headerCsp}\n`);
  return { html: join(outDir, `${name}.html`), csp: headerCsp, bytes: Buffer.byteLength(html) };
}
