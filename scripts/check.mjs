#!/usr/bin/env node
// The quality gate (`npm run check`; `npm test` runs it first): Biome's lint, ESLint's type-aware promise
// rules, the format check, the typecheck (src, test, web, examples) and knip's unused-code check. Each is
// the package.json script of that name; all run side by side, and any finding fails the gate. Each tool's
// output is printed when it ends (in full when it failed), then a summary line.
// See docs/architecture.md, "Quality gate".
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TASKS = ['lint:biome', 'lint:promises', 'format:check', 'typecheck', 'knip'];
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs one package.json script; resolves with its exit code, combined output and duration. */
function run(script) {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(npm, ['run', '--silent', script], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', (error) => resolve({ script, code: 1, output: `${output}${error.message}\n`, ms: performance.now() - started }));
    child.on('close', (code, signal) => {
      const result = { script, code: code ?? 1, output: signal ? `${output}killed by ${signal}\n` : output, ms: performance.now() - started };
      process.stdout.write(
        `── ${script}: ${result.code === 0 ? 'ok' : 'FAILED'} (${(result.ms / 1000).toFixed(1)} s)\n${result.code === 0 ? '' : result.output}`,
      );
      resolve(result);
    });
  });
}

const started = performance.now();
const results = await Promise.all(TASKS.map(run));
const failed = results.filter((r) => r.code !== 0).map((r) => r.script);
const total = ((performance.now() - started) / 1000).toFixed(1);
process.stdout.write(failed.length === 0 ? `check: all passed in ${total} s\n` : `check: FAILED (${failed.join(', ')}) after ${total} s\n`);
process.exitCode = failed.length === 0 ? 0 : 1;
