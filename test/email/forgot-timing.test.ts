/**
 * `POST /auth/password/forgot` says nothing about which addresses have accounts, in its body or
 * in its timing: medians of 30 interleaved requests for a known and an unknown address agree
 * within 0.8–1.25× (or 5 ms), with the reset mails really sent to a real SMTP server.
 */
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../http/contract.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { startSmtp, type TestSmtp } from '../helpers/smtp.js';

let smtp: TestSmtp;
let t: TestServer;
beforeAll(async () => {
  smtp = await startSmtp();
  t = await startTestServer({ smtpUrl: smtp.url });
});
afterAll(async () => {
  await t?.close();
  await smtp?.stop();
});

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[14]! + sorted[15]!) / 2;
};

describe('forgot-password timing', () => {
  it('known and unknown addresses: same answers, medians within 0.8–1.25× (or 5 ms)', async () => {
    const known: string[] = [];
    // 10 accounts, 3 requests each: every request of the known side is under the mail cap and sends a mail.
    for (let i = 0; i < 10; i++) known.push((await signUp(t.client, `timing${Date.now()}-${i}@example.test`)).email);
    const times = { known: [] as number[], unknown: [] as number[] };
    const bodies = new Set<string>();
    for (let i = 0; i < 30; i++) {
      for (const side of i % 2 === 0 ? (['known', 'unknown'] as const) : (['unknown', 'known'] as const)) {
        const email = side === 'known' ? known[i % known.length]! : `nobody${Date.now()}-${i}@example.test`;
        const started = performance.now();
        const answer = await t.client.post('/auth/password/forgot', { body: { email } });
        times[side].push(performance.now() - started);
        expect(answer.status).toBe(202);
        bodies.add(answer.text);
      }
    }
    expect(bodies.size).toBe(1);
    const [k, u] = [median(times.known), median(times.unknown)];
    if (Math.abs(k - u) > 5) {
      expect(k / u).toBeGreaterThanOrEqual(0.8);
      expect(k / u).toBeLessThanOrEqual(1.25);
    }
    await t.latchkey.email.drain();
    await smtp.waitFor(10 + 30); // 10 verification mails, then 30 reset mails: the known side really sent
  }, 60_000);
});
