/**
 * The page behind the links in Latchkey's mails (docs/email.md): `…/reset-password#token=…`
 * and `…/verify-email#token=…`. Opening it changes nothing — a link scanner that fetches it, or
 * even runs it, consumes no token: only the button's POST does. The token is read from the
 * fragment (never sent to a server by the browser), removed from the address bar at once, and
 * kept in this page's memory until the POST.
 */
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const kind = location.pathname.endsWith('/reset-password') ? 'reset' : 'verify';
/** The mount path of the auth routes: the page's own directory (`/auth`). */
const base = location.pathname.slice(0, location.pathname.lastIndexOf('/'));
const token = new URLSearchParams(location.hash.slice(1)).get('token');
// Out of the address bar, the history and any later Referer.
history.replaceState(null, '', location.pathname);

const title = $('title');
const lede = $('lede');
const result = $('result');
const errorEl = $('error');

function fail(message: string): void {
  errorEl.hidden = false;
  errorEl.textContent = message;
}

const MESSAGES: Record<string, string> = {
  LINK_INVALID: 'This link no longer works: it was used already, a newer one was sent, or it expired. Ask for a new one.',
  WEAK_PASSWORD: 'That password is too weak or too common: choose a longer one.',
  RATE_LIMITED: 'Too many attempts from here; wait a minute and try again.',
  EMAIL_TAKEN: 'That address now belongs to another account.',
};

async function post(path: string, body: Record<string, string>): Promise<{ ok: boolean; body: Record<string, unknown> }> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
    cache: 'no-store',
  });
  const parsed = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  return { ok: response.ok, body: parsed };
}

function explain(body: Record<string, unknown>): string {
  const code = typeof body.error === 'string' ? body.error : '';
  return MESSAGES[code] ?? (typeof body.message === 'string' ? body.message : 'Something went wrong; try again.');
}

if (kind === 'reset') {
  title.textContent = 'Choose a new password';
  lede.textContent = 'Every session of your account will be signed out.';
} else {
  title.textContent = 'Confirm your e-mail address';
  lede.textContent = 'Press the button to confirm that this address is yours.';
}

/**
 * Shows `formId` and sends its POST on submit: `body()` gives the fields (or `undefined` after
 * it reported a problem itself), `done` words the success. The button stays disabled while the
 * request runs and comes back after a failure, so a weak password can be corrected.
 */
function handle(
  formId: string,
  buttonId: string,
  path: string,
  body: () => Record<string, string> | undefined,
  done: (answer: Record<string, unknown>) => string,
): void {
  const form = $<HTMLFormElement>(formId);
  const button = $<HTMLButtonElement>(buttonId);
  form.hidden = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    errorEl.hidden = true;
    const fields = body();
    if (!fields) return;
    button.disabled = true;
    post(path, fields).then(
      ({ ok, body: answer }) => {
        if (ok) {
          form.hidden = true;
          result.textContent = done(answer);
        } else {
          button.disabled = false;
          fail(explain(answer));
        }
      },
      () => {
        button.disabled = false;
        fail('The server could not be reached; try again.');
      },
    );
  });
}

if (!token) {
  fail('This link is incomplete: open the whole link from the mail.');
} else if (kind === 'reset') {
  handle(
    'reset',
    'reset-button',
    '/password/reset',
    () => {
      const password = $<HTMLInputElement>('password').value;
      if (password !== $<HTMLInputElement>('repeat').value) {
        fail('The two passwords differ.');
        return undefined;
      }
      return { token, newPassword: password };
    },
    () => 'Your password was changed. Sign in with the new one.',
  );
} else {
  handle(
    'verify',
    'verify-button',
    '/email/verify',
    () => ({ token }),
    (answer) => {
      const user = answer.user as { email?: unknown } | undefined;
      return `Confirmed: ${typeof user?.email === 'string' ? user.email : 'your address'} is verified.`;
    },
  );
}
