/** Local accounts for the sign-in tests: registered over HTTP, verified through the link in the dev outbox. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { TestServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery staple';

async function verificationToken(t: TestServer, email: string): Promise<string> {
  const dir = join(t.dir, 'outbox');
  for (let i = 0; i < 100; i++) {
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      const mail = await simpleParser(await readFile(join(dir, file)));
      const to = Array.isArray(mail.to) ? mail.to : [mail.to];
      if (!to.some((a) => a?.text.includes(email))) continue;
      const token = /verify-email#token=([A-Za-z0-9_-]+)/.exec(mail.text ?? '')?.[1];
      if (token) return token;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no verification mail to ${email}`);
}

/** Registers `email`; with `verified`, opens the link of its verification mail. */
export async function localAccount(t: TestServer, email: string, { verified }: { verified: boolean }): Promise<{ id: string; password: string }> {
  const registered = await t.client.post('/auth/register', { body: { email, password: PASSWORD } });
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}`);
  if (verified) {
    const answer = await t.client.post('/auth/email/verify', { body: { token: await verificationToken(t, email) } });
    if (answer.status !== 200) throw new Error(`verify answered ${answer.status}`);
  }
  return { id: registered.body.user.id, password: PASSWORD };
}

/** A password login: its access token and refresh cookie. */
export async function passwordLogin(t: TestServer, email: string, password = PASSWORD): Promise<{ accessToken: string; cookie: string }> {
  const answer = await t.client.post('/auth/login', { body: { email, password } });
  if (answer.status !== 200) throw new Error(`login answered ${answer.status}`);
  const cookie = answer.cookies.find((c) => c.name === '__Secure-refreshToken')!;
  return { accessToken: answer.body.accessToken, cookie: `${cookie.name}=${cookie.value}` };
}
