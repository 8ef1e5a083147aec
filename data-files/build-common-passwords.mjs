// Regenerates data-files/common-passwords.txt from the zxcvbn-ts common password list.
//   cd /tmp && npm pack @zxcvbn-ts/language-common@4.1.3 && tar xzf zxcvbn-ts-language-common-4.1.3.tgz
//   node data-files/build-common-passwords.mjs /tmp/package/src/passwords.json
// Each entry is NFC-normalised and lower-cased (the rule compares case-insensitively);
// entries shorter than 8 code points are dropped because the length rule already refuses
// them; duplicates after normalisation are dropped. Order (most common first) is kept.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const source = process.argv[2];
if (!source) {
  console.error('usage: node data-files/build-common-passwords.mjs <path to @zxcvbn-ts/language-common src/passwords.json>');
  process.exit(2);
}
const list = JSON.parse(await readFile(source, 'utf8'));
const seen = new Set();
const out = [];
for (const entry of list) {
  const normalized = entry.normalize('NFC').toLowerCase();
  const length = [...normalized].length;
  if (length < 8 || length > 256 || seen.has(normalized)) continue;
  seen.add(normalized);
  out.push(normalized);
}
await writeFile(fileURLToPath(new URL('./common-passwords.txt', import.meta.url)), `${out.join('\n')}\n`);
console.log(`wrote ${out.length} of ${list.length} entries`);
