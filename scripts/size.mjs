/**
 * `npm run size`: the browser client (`latchkey/client`) as an app would ship it — bundled
 * with its imports, minified, gzipped — against its budget of 4 KiB (4,096 B). Exits 1 over budget.
 * Also reports `latchkey/client/dpop` (the client with DPoP), which apps not using DPoP never load,
 * and `latchkey/client/passkeys` (its WebAuthn glue alone, without the client it takes).
 *
 *   node scripts/size.mjs [--json]
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const CLIENT_ENTRY = fileURLToPath(new URL('../src/client/index.ts', import.meta.url));
export const DPOP_CLIENT_ENTRY = fileURLToPath(new URL('../src/client/dpop.ts', import.meta.url));
export const PASSKEYS_CLIENT_ENTRY = fileURLToPath(new URL('../src/client/passkeys.ts', import.meta.url));
export const BUDGET_BYTES = 4096;

/** Bundles and minifies a client entry for browsers; returns the code and its sizes in bytes. */
export async function measureClient(entry = CLIENT_ENTRY) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].text;
  return { code, minified: Buffer.byteLength(code), gzipped: gzipSync(code, { level: 9 }).length, budget: BUDGET_BYTES };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { minified, gzipped, budget } = await measureClient();
  const dpop = await measureClient(DPOP_CLIENT_ENTRY);
  const passkeys = await measureClient(PASSKEYS_CLIENT_ENTRY);
  if (process.argv.includes('--json')) {
    console.log(
      JSON.stringify({
        minified,
        gzipped,
        budget,
        dpop: { minified: dpop.minified, gzipped: dpop.gzipped },
        passkeys: { minified: passkeys.minified, gzipped: passkeys.gzipped },
      }),
    );
  } else {
    console.log(`latchkey/client: ${minified} B minified, ${gzipped} B minified + gzipped (budget ${budget} B)`);
    console.log(`latchkey/client/dpop: ${dpop.minified} B minified, ${dpop.gzipped} B minified + gzipped (the client with DPoP)`);
    console.log(`latchkey/client/passkeys: ${passkeys.minified} B minified, ${passkeys.gzipped} B minified + gzipped (the WebAuthn glue)`);
  }
  if (gzipped >= budget) {
    console.error(`latchkey/client is over its budget by ${gzipped - budget + 1} B`);
    process.exitCode = 1;
  }
}
