/**
 * knip: unused files, exports and dependencies (`npm run knip`, part of `npm run check`). Every entry
 * point of the repository is named here; a file, export or dependency no entry reaches is a finding.
 */
import { readFileSync } from 'node:fs';
import type { KnipConfig } from 'knip';

type ExportTarget = string | { default?: string };
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { exports: Record<string, ExportTarget> };

/** Each package.json export maps to its source: ./dist/a/b.js is built from src/a/b.ts (tsconfig.build.json). */
const packageEntries = Object.values(pkg.exports)
  .map((target) => (typeof target === 'string' ? target : target.default))
  .filter((path): path is string => path?.startsWith('./dist/') === true)
  .map((path) => path.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));

const config: KnipConfig = {
  entry: [
    ...packageEntries, // the bin (src/cli/bin.ts) knip finds through package.json itself
    'web/*/main.ts', // the web pages, built by web/*/build.mjs (scripts/build-web.mjs)
    'web/*/build.mjs',
    'scripts/*.mjs',
    'data-files/*.mjs',
    'bench/*.mjs',
    'bench/http/*.mjs',
    'examples/*/server.ts',
    'test/**/*.test.ts',
    'test/**/*.test-d.ts', // compile-time assertions, checked by the typecheck
    'test/outage/*.outage.ts',
  ],
  project: ['src/**/*.ts', 'test/**/*.ts', 'web/**/*.{ts,mjs}', 'scripts/*.mjs', 'data-files/*.mjs', 'bench/**/*.mjs', 'examples/**/*.ts'],
  // A type or interface that an exported function's signature uses may stay exported even when no other
  // module names it: it documents that signature. Values must be used outside their file to be exported.
  ignoreExportsUsedInFile: { interface: true, type: true },
  // System tools, not packages: the certificate test runs openssl, the terminal-log test script(1)
  // (util-linux); each skips visibly when its tool is missing.
  ignoreBinaries: ['openssl', 'script'],
};

export default config;
