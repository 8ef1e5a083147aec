/**
 * Transpiles src/ to bench/out/dist/ (one .js file per .ts file, the same module graph as the
 * published dist/, without type checking), so the benchmark runs the current source as plain
 * JavaScript — no loader, no stale dist/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const OUT = join(ROOT, 'bench', 'out');
const DIST = join(OUT, 'dist');

/** Source files to transpile: TypeScript, and the few plain-JavaScript modules (worker entry points). */
function sourceFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (entry.name.endsWith('.js') || (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') && !entry.name.endsWith('.test.ts')))
      files.push(path);
  }
  return files;
}

/**
 * Transpiles the working tree's src/ — or, with `ref`, src/ as committed at that git ref
 * (extracted with `git archive`, so half-done edits in a shared working tree stay out).
 */
export async function buildSource({ ref } = {}) {
  rmSync(DIST, { recursive: true, force: true });
  let src = join(ROOT, 'src');
  if (ref) {
    const tree = join(OUT, 'tree');
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(tree, { recursive: true });
    execFileSync('sh', ['-c', `git archive "$1" src | tar -x -C "$2"`, 'sh', ref, tree], { cwd: ROOT });
    src = join(tree, 'src');
  }
  const entryPoints = sourceFiles(src);
  await build({
    entryPoints,
    outdir: DIST,
    outbase: src,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    bundle: false,
    sourcemap: false,
    logLevel: 'warning',
  });
  // Files the source finds relative to its own location (`../../data-files`, `../../package.json`).
  for (const [link, target] of [
    [join(OUT, 'data-files'), join(ROOT, 'data-files')],
    [join(OUT, 'package.json'), join(ROOT, 'package.json')],
    [join(DIST, 'web'), join(ROOT, 'dist', 'web')],
  ]) {
    rmSync(link, { force: true, recursive: false });
    if (existsSync(target)) symlinkSync(target, link);
  }
  return { files: entryPoints.length, dir: DIST };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await buildSource();
  console.log(`built ${r.files} files into ${relative(ROOT, r.dir)}`);
}
