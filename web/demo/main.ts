/**
 * The demo page at `/`: register, sign in (with the second step when the account has a factor),
 * call `/auth/me`, list and revoke sessions, set up TOTP (its QR code) and passkeys, sign
 * out — all through `latchkey/client` and `latchkey/client/passkeys`. The current access token is shown decoded with the
 * decoder's core (`decodeToken`, src/decoder). Every server- or token-derived string goes
 * through `textContent`; the page stores nothing.
 *
 * `window.latchkeyClient` (this page's client) and `window.latchkeySdk` are exposed for the
 * browser tests; a script running in this page could reach the client anyway.
 */
import { AuthError, createAuthClient, type AuthClient, type AuthErrorCode, type LoginResult } from '../../src/client/index.js';
import { withPasskeys } from '../../src/client/passkeys.js';
import { decodeToken } from '../../src/decoder/decode.js';

declare global {
  interface Window {
    latchkeyClient: AuthClient;
    latchkeySdk: { createAuthClient: typeof createAuthClient; AuthError: typeof AuthError };
  }
}

const client = withPasskeys(createAuthClient());
window.latchkeyClient = client;
window.latchkeySdk = { createAuthClient, AuthError };

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const statusEl = $('status');
const errorEl = $('error');
const signedOutEl = $('signed-out');
const signedInEl = $('signed-in');
const emailInput = $<HTMLInputElement>('email');
const passwordInput = $<HTMLInputElement>('password');
const meOutput = $('me-output');
const sessionTable = $('session-table');
const sessionRows = $('session-rows');
const tokenMeta = $('token-meta');
const tokenHeader = $('token-header');
const tokenPayload = $('token-payload');
const eventsEl = $('events');
const mfaStep = $('mfa-step');
const factorsEl = $('factors');
const mfaCode = $<HTMLInputElement>('mfa-code');
const mfaRecovery = $<HTMLInputElement>('mfa-recovery');
/** A login that answered `mfaRequired` is waiting for its second step. */
let pendingFactors: string[] | null = null;
/**
 * The second step of a provider sign-in, which comes back as `#mfaToken=…&factors=…`
 * (docs/oidc.md): the client never saw that step, so its token is sent along explicitly.
 */
let providerMfaToken: string | null = null;
$('decoder-note').textContent = '— decoded in this tab by the decoder core';

function showError(error: unknown): void {
  errorEl.hidden = false;
  errorEl.textContent = error instanceof AuthError ? `${error.code}: ${error.message}` : error instanceof Error ? error.message : String(error);
}

function clearError(): void {
  errorEl.hidden = true;
  errorEl.textContent = '';
}

function logEvent(text: string): void {
  const item = document.createElement('li');
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  eventsEl.prepend(item);
  while (eventsEl.children.length > 50) eventsEl.lastElementChild?.remove();
}

async function render(): Promise<void> {
  const signedIn = client.signedIn;
  statusEl.textContent = signedIn ? 'signed in' : 'signed out';
  signedInEl.hidden = !signedIn;
  factorsEl.hidden = !signedIn;
  if (signedIn) pendingFactors = null;
  mfaStep.hidden = signedIn || pendingFactors === null;
  signedOutEl.hidden = signedIn || pendingFactors !== null;
  $('mfa-factors').textContent = pendingFactors?.join(', ') ?? '';
  $('mfa-passkey').hidden = !pendingFactors?.includes('webauthn');
  if (!signedIn) {
    meOutput.textContent = '';
    sessionTable.hidden = true;
    sessionRows.replaceChildren();
  }
  let token: string | null = null;
  try {
    token = signedIn ? await client.getAccessToken() : null;
  } catch {
    token = null;
  }
  if (!token) {
    tokenMeta.textContent = 'No access token.';
    tokenHeader.textContent = '';
    tokenPayload.textContent = '';
    return;
  }
  const decoded = decodeToken(token);
  if (!decoded.ok || decoded.kind !== 'JWS') {
    tokenMeta.textContent = decoded.ok ? 'Not a JWS.' : `Undecodable: ${decoded.message}`;
    return;
  }
  const { exp, iat } = decoded.payloadJson as { exp?: unknown; iat?: unknown };
  const lifetime = typeof exp === 'number' && typeof iat === 'number' ? `${exp - iat} s lifetime, ` : '';
  tokenMeta.textContent = `${lifetime}exp ${typeof exp === 'number' ? new Date(exp * 1000).toISOString() : '—'} (server time)`;
  tokenHeader.textContent = JSON.stringify(decoded.headerJson, null, 2);
  tokenPayload.textContent = JSON.stringify(decoded.payloadJson, null, 2);
}

/** Runs a button's action with errors shown and the view refreshed. */
function action(run: () => Promise<void>): () => void {
  return () => {
    clearError();
    run()
      .catch(showError)
      .finally(() => void render());
  };
}

async function readJson(response: Response): Promise<unknown> {
  if (response.ok) return response.status === 204 ? null : response.json();
  const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
  throw new AuthError((body.error ?? 'INTERNAL') as AuthError['code'], body.message ?? `HTTP ${response.status}`, { status: response.status });
}

async function register(): Promise<void> {
  const response = await fetch('/auth/register', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: emailInput.value, password: passwordInput.value }),
  });
  await readJson(response);
  await client.login(emailInput.value, passwordInput.value);
  passwordInput.value = '';
}

const MAIL_NOTE =
  'A mail is on its way if the address has an account. Without LATCHKEY_SMTP_URL it is an .eml file in the dev outbox: the server log names it, `latchkey mail outbox` lists it.';

function noteMail(text: string): void {
  const note = $('mail-note');
  note.hidden = false;
  note.textContent = text;
  logEvent(text);
}

/** POST /auth/password/forgot: the same answer for every address; the link arrives by mail. */
async function forgot(): Promise<void> {
  if (!emailInput.value) throw new Error('Type the e-mail address of the account first.');
  await readJson(
    await fetch('/auth/password/forgot', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: emailInput.value }),
    }),
  );
  noteMail(`Reset requested. ${MAIL_NOTE}`);
}

async function resend(): Promise<void> {
  await readJson(await client.fetch('/auth/email/verify/resend', { method: 'POST' }));
  noteMail(`Verification requested. ${MAIL_NOTE}`);
}

async function login(): Promise<void> {
  afterLogin(await client.login(emailInput.value, passwordInput.value));
  passwordInput.value = '';
}

function afterLogin(result: LoginResult): void {
  pendingFactors = result.mfaRequired ? result.factors : null;
  if (result.mfaRequired) logEvent(`second factor due: ${result.factors.join(', ')}`);
}

/** The second step: a TOTP code, or a recovery code when the box is ticked. */
async function verifyMfa(): Promise<void> {
  const value = mfaCode.value.trim();
  const answer = mfaRecovery.checked ? { recoveryCode: value } : { code: value };
  try {
    const mfaToken = providerMfaToken;
    if (mfaToken) await client.signInAt('mfa/verify', () => ({ ...answer, mfaToken }));
    else await client.verifyMfa(answer);
    providerMfaToken = null;
  } catch (error) {
    // A dead step (too many wrong codes, expired): back to the password.
    if (error instanceof AuthError && error.code === 'MFA_TOKEN_INVALID') {
      pendingFactors = null;
      providerMfaToken = null;
    }
    throw error;
  }
  mfaCode.value = '';
  mfaRecovery.checked = false;
}

// ── second factors ─────────────────────────────────────────────────────────

async function enrollTotp(): Promise<void> {
  const password = $<HTMLInputElement>('totp-password');
  const enrollment = (await readJson(
    await client.fetch('/auth/mfa/totp/enroll', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ currentPassword: password.value }),
    }),
  )) as { secret: string; qrSvg: string };
  password.value = '';
  $('totp-secret').textContent = enrollment.secret;
  // An SVG as an image: nothing in it can run (img-src data: is this page's one image source).
  $<HTMLImageElement>('totp-qr').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrollment.qrSvg)}`;
  $('totp-setup').hidden = false;
  $('recovery').hidden = true;
}

async function confirmTotp(): Promise<void> {
  const code = $<HTMLInputElement>('totp-code');
  const { recoveryCodes } = (await readJson(
    await client.fetch('/auth/mfa/totp/confirm', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: code.value.trim() }),
    }),
  )) as { recoveryCodes: string[] };
  code.value = '';
  $('totp-setup').hidden = true;
  $('recovery-codes').replaceChildren(
    ...recoveryCodes.map((text) => {
      const item = document.createElement('li');
      item.textContent = text;
      return item;
    }),
  );
  $('recovery').hidden = false;
  logEvent('authenticator app added');
}

async function removeTotp(): Promise<void> {
  await readJson(await client.fetch('/auth/mfa/totp', { method: 'DELETE' }));
  logEvent('authenticator app removed');
}

async function showPasskeys(): Promise<void> {
  const passkeys = await client.listPasskeys();
  $('passkey-list').replaceChildren(
    ...passkeys.map((passkey) => {
      const item = document.createElement('li');
      item.dataset.testid = 'passkey';
      item.textContent = `${passkey.name} — added ${passkey.createdAt}, last used ${passkey.lastUsedAt ?? 'never'} `;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'secondary';
      remove.dataset.testid = 'passkey-remove';
      remove.textContent = 'Remove';
      remove.addEventListener(
        'click',
        action(async () => {
          await client.removePasskey(passkey.id);
          logEvent(`removed passkey ${passkey.name}`);
          await showPasskeys();
        }),
      );
      item.append(remove);
      return item;
    }),
  );
}

async function addPasskey(): Promise<void> {
  const passkey = await client.registerPasskey({ name: `Passkey ${new Date().toLocaleDateString()}` });
  logEvent(`added ${passkey.name}`);
  await showPasskeys();
}

async function showMe(): Promise<void> {
  meOutput.textContent = JSON.stringify(await readJson(await client.fetch('/auth/me')), null, 2);
}

interface SessionView {
  id: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

async function showSessions(): Promise<void> {
  const { sessions } = (await readJson(await client.fetch('/auth/sessions'))) as { sessions: SessionView[] };
  const rows = sessions.map((session) => {
    const row = document.createElement('tr');
    row.dataset.testid = 'session-row';
    if (session.current) row.className = 'current';
    for (const text of [session.createdAt, session.lastUsedAt ?? '—', session.expiresAt, session.userAgent ?? '—', session.ip ?? '—']) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    const cell = document.createElement('td');
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'secondary';
    revoke.dataset.testid = 'revoke';
    revoke.textContent = session.current ? 'Revoke (this one)' : 'Revoke';
    revoke.addEventListener(
      'click',
      action(async () => {
        await readJson(await client.fetch(`/auth/sessions/${encodeURIComponent(session.id)}`, { method: 'DELETE' }));
        logEvent(`revoked session ${session.id.slice(0, 8)}…`);
        await showSessions();
      }),
    );
    cell.append(revoke);
    row.append(cell);
    return row;
  });
  sessionRows.replaceChildren(...rows);
  sessionTable.hidden = false;
}

$('credentials').addEventListener('submit', (event) => {
  event.preventDefault();
  action(login)();
});
$('register').addEventListener('click', action(register));
$('mfa-form').addEventListener('submit', (event) => {
  event.preventDefault();
  action(verifyMfa)();
});
$('mfa-passkey').addEventListener(
  'click',
  action(() => client.signInWithPasskey()),
);
$('passkey-login').addEventListener(
  'click',
  action(() => client.signInWithPasskey()),
);
$('totp-enroll').addEventListener('click', action(enrollTotp));
$('totp-confirm-form').addEventListener('submit', (event) => {
  event.preventDefault();
  action(confirmTotp)();
});
$('totp-remove').addEventListener('click', action(removeTotp));
$('passkey-add').addEventListener('click', action(addPasskey));
$('forgot').addEventListener('click', action(forgot));
$('resend').addEventListener('click', action(resend));
$('me').addEventListener('click', action(showMe));
$('sessions').addEventListener('click', action(showSessions));
$('logout').addEventListener(
  'click',
  action(() => client.logout()),
);

/** A button per identity provider the server signs in with (GET /auth/providers; docs/oidc.md). */
async function showProviders(): Promise<void> {
  const response = await fetch('/auth/providers');
  if (!response.ok) return;
  const { providers } = (await response.json()) as { providers: Array<{ id: string; name: string }> };
  const box = $('providers');
  for (const provider of providers) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.dataset.testid = `provider-${provider.id}`;
    button.textContent = `Sign in with ${provider.name}`;
    button.addEventListener('click', () => client.signInWith(provider.id));
    box.append(button);
  }
  box.hidden = providers.length === 0;
}

// A provider sign-in that failed comes back with #error=CODE (docs/oidc.md#errors).
const returned = new URLSearchParams(location.hash.slice(1));
if (returned.has('mfaToken')) {
  // A provider sign-in of an account with a second factor: the TOTP step is shown (a passkey as
  // the second step after a provider needs the step inside the client, which only login() holds).
  providerMfaToken = returned.get('mfaToken');
  pendingFactors = (returned.get('factors') ?? '').split(',').filter((factor) => factor === 'totp');
  logEvent(`second factor due after the provider: ${pendingFactors.join(', ')}`);
  history.replaceState(null, '', location.pathname + location.search);
} else if (returned.has('error') || returned.has('linked')) {
  const code = returned.get('error');
  if (code) showError(new AuthError(code as AuthErrorCode, `The sign-in with the provider did not complete (${code}).`));
  else logEvent(`linked ${returned.get('linked')}`);
  history.replaceState(null, '', location.pathname + location.search);
}
void showProviders();

client.onChange((change) => {
  logEvent(change.type);
  if (change.signedIn) void showPasskeys().catch(() => undefined);
  void render();
});

client
  .restore()
  .then((signedIn) => logEvent(signedIn ? 'restored the session' : 'no session to restore'))
  .catch((error: unknown) => showError(error))
  .finally(() => {
    document.documentElement.dataset.ready = 'true';
    void render();
  });
