/**
 * Import time of each entry point: `node bench/import-time.mjs [rounds] [packageDir]` imports
 * every entry by package name in `rounds` fresh processes (default 15) and prints the median
 * and the fastest wall time of the `import()` itself, in ms. Run `npm run build` first; give
 * another checkout's directory to measure its `dist/` (e.g. the previous release).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const rounds = Number(process.argv[2] ?? 15);
const cwd = resolve(process.argv[3] ?? '.');
const ENTRIES = ['latchkey', 'latchkey/express', 'latchkey/fastify', 'latchkey/server', 'latchkey/client'];
const script = (entry) => `const t = performance.now(); await import(${JSON.stringify(entry)}); process.stdout.write(String(performance.now() - t));`;

const rows = [];
for (const entry of ENTRIES) {
  const times = [];
  for (let i = 0; i < rounds; i++) {
    try {
      times.push(
        Number(
          execFileSync(process.execPath, ['--input-type=module', '-e', script(entry)], {
            cwd,
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
          }),
        ),
      );
    } catch {
      break; // the entry does not exist in that checkout
    }
  }
  if (times.length === 0) continue;
  times.sort((a, b) => a - b);
  rows.push({ entry, median: times[Math.floor(times.length / 2)].toFixed(1), fastest: times[0].toFixed(1) });
}
console.table(rows);
