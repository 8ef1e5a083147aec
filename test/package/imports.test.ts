/**
 * Dependencies point one way: each entry point, imported by package name from the compiled
 * `dist/` in a fresh process, loads only what it needs. The core loads no web framework and
 * none of the HTTP edges; `latchkey/express` loads no Fastify; the browser client loads nothing
 * of Node. `npm test` builds first.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const run = promisify(execFile);
const LOADER = fileURLToPath(new URL('./fixtures/load-entry.mjs', import.meta.url));

let dir: string;
beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)');
  dir = await mkdtemp(join(tmpdir(), 'latchkey-imports-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Loaded {
  /** npm packages, by name (`fastify`, `@fastify/error`). */
  packages: Set<string>;
  /** Node built-ins (`node:crypto`). */
  builtins: Set<string>;
  /** Files of this package, relative to `dist/`. */
  own: string[];
}

let runs = 0;
async function load(specifier: string): Promise<Loaded> {
  const env = { ...process.env, LOADS_FILE: join(dir, `loads-${runs++}.txt`) };
  const { stdout } = await run(process.execPath, [LOADER, specifier], { cwd: ROOT, env });
  const { files } = JSON.parse(stdout) as { files: string[] };
  const loaded: Loaded = { packages: new Set(), builtins: new Set(), own: [] };
  const dist = `file://${join(ROOT, 'dist')}/`;
  for (const url of files) {
    if (url.startsWith('node:')) loaded.builtins.add(url);
    else if (url.includes('/node_modules/')) {
      const parts = url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/');
      loaded.packages.add(parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
    } else if (url.startsWith(dist)) loaded.own.push(url.slice(dist.length));
  }
  return loaded;
}

/** Packages that belong to a web framework (Fastify and what only it pulls in, Express, metrics). */
const isFramework = (name: string) =>
  ['fastify', 'express', 'ajv', 'prom-client', 'find-my-way', 'avvio', 'light-my-request', 'fast-json-stringify'].includes(name) ||
  name.startsWith('@fastify/');
const isFastify = (name: string) => ['fastify', 'find-my-way', 'avvio', 'light-my-request'].includes(name) || name.startsWith('@fastify/');

describe('what each entry point loads', () => {
  it('latchkey: the service, no web framework and no HTTP edge', async () => {
    const { packages, own } = await load('latchkey');
    expect([...packages].filter(isFramework)).toEqual([]);
    expect(own.filter((file) => file.startsWith('http/') || file.startsWith('adapters/'))).toEqual([]);
    expect(own).toContain('latchkey.js');
    // The mail library loads with the first mail, not with the package (~40–80 ms of import time).
    expect(packages.has('nodemailer')).toBe(false);
    // The OpenID Connect client loads with the first provider sign-in.
    expect(packages.has('openid-client')).toBe(false);
  });

  it('latchkey/express: the shared route handlers, no Fastify (and no Express of its own: it is the host’s)', async () => {
    const { packages, own } = await load('latchkey/express');
    expect([...packages].filter((name) => isFastify(name) || name === 'express' || name === 'prom-client')).toEqual([]);
    expect(own).toEqual(expect.arrayContaining(['adapters/express-router.js', 'http/routes/auth.js']));
  });

  it('latchkey/fastify: no Express', async () => {
    const { packages, own } = await load('latchkey/fastify');
    expect(packages.has('express')).toBe(false);
    expect(own).toContain('http/routes/auth.js');
  });

  it('latchkey/server: Fastify and its plugins, no Express', async () => {
    const { packages } = await load('latchkey/server');
    expect(packages.has('fastify')).toBe(true);
    expect(packages.has('express')).toBe(false);
  });

  it.each(['latchkey/client', 'latchkey/client/dpop'])('%s: nothing of Node — no built-in, no package, only its own files', async (entry) => {
    const { packages, builtins, own } = await load(entry);
    expect({ packages: [...packages], builtins: [...builtins] }).toEqual({ packages: [], builtins: [] });
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((file) => file.startsWith('client/'))).toBe(true);
  });

  it('latchkey/client/passkeys: its own files and @simplewebauthn/browser, nothing of Node', async () => {
    const { packages, builtins, own } = await load('latchkey/client/passkeys');
    expect({ packages: [...packages], builtins: [...builtins] }).toEqual({ packages: ['@simplewebauthn/browser'], builtins: [] });
    expect(own.every((file) => file.startsWith('client/'))).toBe(true);
    expect(own).toContain('client/passkeys.js');
  });
});
