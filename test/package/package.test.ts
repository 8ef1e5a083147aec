/**
 * What `npm install latchkey` delivers: the published file list (`npm pack --dry-run`), the
 * entry points resolved by package name from the compiled `dist/` (not the TypeScript sources
 * the other suites import), and the compiled `latchkey` binary. `npm test` builds first.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
};
const strip = (p: string) => p.replace(/^\.\//, '');

let files: Set<string>;
beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const [report] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  files = new Set(report.files.map((f) => f.path));
}, 60_000);

describe('the published package', () => {
  it('ships every export target, its types, the bin, the hashing worker, the web pages, the data files and the licences', () => {
    const required = [
      ...Object.values(pkg.exports).flatMap((target) => (typeof target === 'string' ? [target] : [target.types, target.default])),
      ...Object.values(pkg.bin),
      'dist/auth/hashing-worker.js',
      'dist/web/decoder.html',
      'dist/web/decoder.csp',
      'dist/web/demo.html',
      'dist/web/demo.csp',
      'data-files/common-passwords.txt',
      'data-files/LICENSE-common-passwords.md',
      'data-files/common-jwt-secrets.txt',
      'data-files/LICENSE-common-jwt-secrets.md',
      'LICENSE',
      'README.md',
      'docs/decoder.md',
    ].map(strip);
    expect(required.filter((path) => !files.has(path))).toEqual([]);
  });

  it('ships no sources, tests, benchmarks, local data or secrets', () => {
    const unwanted = [...files].filter(
      (path) =>
        /^(src|test|bench|examples|scripts|web|\.ci|data|node_modules|test-results)\//.test(path) ||
        /(^|\/)(secret|\.env[^/]*|[^/]*\.db(-wal|-shm)?|[^/]*\.tgz)$/.test(path) ||
        /\.test\.[cm]?[jt]s$/.test(path),
    );
    expect(unwanted).toEqual([]);
  });

  it('every relative import in the shipped JavaScript points at a shipped file', () => {
    const missing: string[] = [];
    for (const path of files) {
      if (!path.endsWith('.js')) continue;
      const code = readFileSync(join(ROOT, path), 'utf8');
      for (const match of code.matchAll(/(?:from\s*|import\s*\(\s*|new URL\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = normalize(join(dirname(path), match[1]!));
        if (!files.has(target)) missing.push(`${path} → ${match[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('source maps carry their TypeScript (src/ is not shipped)', () => {
    const map = JSON.parse(readFileSync(join(ROOT, 'dist', 'jwt', 'verify.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] };
    expect(map.sourcesContent?.[0]).toContain('export function createVerifier');
  });

  it('the entry points resolve by package name from dist/ and export the documented API', async () => {
    const script = `
      const names = async (s) => Object.keys(await import(s)).sort();
      console.log(JSON.stringify({
        main: await names('latchkey'), express: await names('latchkey/express'),
        fastify: await names('latchkey/fastify'), server: await names('latchkey/server'), client: await names('latchkey/client'),
        clientDpop: await names('latchkey/client/dpop'), clientPasskeys: await names('latchkey/client/passkeys'),
        resolved: import.meta.resolve('latchkey/express'),
      }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    const api = JSON.parse(stdout) as Record<string, string[]> & { resolved: string };
    expect(api.resolved).toMatch(/\/dist\/adapters\/express\.js$/);
    expect(api.main).toEqual(
      expect.arrayContaining(['createLatchkey', 'loadConfig', 'createVerifier', 'createSigner', 'createRemoteJwks', 'LatchkeyError', 'JwtError']),
    );
    expect(api.express).toEqual(expect.arrayContaining(['requireAuth', 'requireRole', 'expressRouter', 'jwksHandler']));
    expect(api.fastify).toEqual(expect.arrayContaining(['requireAuth', 'requireRole', 'fastifyAuthPlugin', 'jwksHandler']));
    expect(api.server).toEqual(['buildServer']);
    expect(api.main).not.toContain('buildServer');
    expect(api.client).toEqual(['AuthError', 'createAuthClient']);
    expect(api.clientDpop).toEqual(['AuthError', 'createAuthClient']);
    expect(api.clientPasskeys).toEqual(['AuthError', 'withPasskeys']);
  });

  it('the compiled bin runs: help, and decode with its exit code', async () => {
    const bin = join(ROOT, strip(pkg.bin.latchkey!));
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node')).toBe(true);
    const help = await run(process.execPath, [bin, '--help']);
    expect(help.stdout).toMatch(/^usage: latchkey <command>/);
    const header = Buffer.from('{"alg":"none"}').toString('base64url');
    const payload = Buffer.from('{"sub":"u"}').toString('base64url');
    const decoded = await run(process.execPath, [bin, 'decode', `${header}.${payload}.`]);
    const report = JSON.parse(decoded.stdout) as { payload: { sub: string }; warnings: { code: string }[] };
    expect(report.payload.sub).toBe('u');
    expect(report.warnings.map((w) => w.code)).toContain('ALG_NONE');
    await expect(run(process.execPath, [bin, 'decode', 'not-a-token'])).rejects.toMatchObject({ code: 3 });
  });
});
