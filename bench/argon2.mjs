/**
 * The hardware floor of a login: argon2id verifications per second with Latchkey's
 * parameters (OWASP: m = 19 MiB, t = 2, p = 1) through @node-rs/argon2, as many in flight as
 * keep both cores busy. Prints JSON: { verifyPerSec: [per round] }.
 *   node bench/argon2.mjs [--seconds 3] [--rounds 3] [--concurrency 8]
 */
import { parseArgs } from 'node:util';
import { Algorithm, hash, verify } from '@node-rs/argon2';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '8' } },
});
const OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
const password = 'correct horse battery staple';
const encoded = await hash(password, OPTIONS);

async function round(ms) {
  let done = 0;
  const end = performance.now() + ms;
  const start = performance.now();
  async function worker() {
    while (performance.now() < end) {
      if (!(await verify(encoded, password))) throw new Error('argon2 verify failed');
      done++;
    }
  }
  await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
  return done / ((performance.now() - start) / 1000);
}

await round(500); // warm-up
const verifyPerSec = [];
for (let r = 0; r < Number(values.rounds); r++) verifyPerSec.push(await round(Number(values.seconds) * 1000));
console.log(JSON.stringify({ verifyPerSec, threadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' }));
