// Builds the browser pages. Each page lives in web/<name>/ and owns a build.mjs whose
// default export receives { root, outDir } and writes its files under dist/web/.
import { readdir, mkdir, access } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'web');
await mkdir(outDir, { recursive: true });

for (const entry of await readdir(join(root, 'web'), { withFileTypes: true })) {
  if (!entry.isDirectory()) continue;
  const script = join(root, 'web', entry.name, 'build.mjs');
  try {
    await access(script);
  } catch {
    continue;
  }
  const { default: build } = await import(pathToFileURL(script).href);
  await build({ root, outDir });
  console.log(`built web/${entry.name}`);
}
