/**
 * The admin page at `/admin` (docs/admin.md#admin-page): sign in with `latchkey/client` (a second
 * factor when the admin has one: the admin API wants aal2 then), search users, open one to see
 * its sessions and factors, change the role, disable or enable, revoke sessions, delete, and read
 * the audit log with filters. Every request goes to this page's own origin: the auth API to sign
 * in, the admin API for the rest. Every server-derived string goes through `textContent`; the page
 * stores nothing.
 */
import { AuthError, createAuthClient } from '../../src/client/index.js';
import { EVENT_TYPES } from '../../src/auth/events.js';

interface AdminUser {
  id: string;
  email: string;
  role: string;
  disabled: boolean;
  emailVerified: boolean;
  createdAt: string;
}
interface AdminSession {
  id: string;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  userAgent: string | null;
  ip: string | null;
  acr: string;
  amr: string[];
}
interface AdminFactor {
  id: string;
  type: string;
  createdAt: string;
  lastUsedAt: string | null;
}
interface AuditEvent {
  id: number;
  type: string;
  at: string;
  userId: string | null;
  actorId: string | null;
  sessionId: string | null;
  ip?: string;
  data: Record<string, unknown>;
}

const client = createAuthClient();
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

const statusEl = $('status');
const errorEl = $('error');
const noticeEl = $('notice');
const signinEl = $('signin');
const consoleEl = $('console');
const signoutButton = $<HTMLButtonElement>('signout');
const passwordInput = $<HTMLInputElement>('signin-password');
const userRows = $('user-rows');
const moreUsers = $<HTMLButtonElement>('more-users');
const detailEl = $('detail');
const roleInput = $<HTMLInputElement>('role');
const toggleButton = $<HTMLButtonElement>('toggle-disabled');
const deleteButton = $<HTMLButtonElement>('delete');
const deleteConfirm = $<HTMLButtonElement>('delete-confirm');
const sessionRows = $('session-rows');
const factorList = $('factor-list');
const auditRows = $('audit-rows');
const moreAudit = $<HTMLButtonElement>('more-audit');
const auditUser = $<HTMLInputElement>('audit-user');
const auditType = $<HTMLSelectElement>('audit-type');

for (const type of EVENT_TYPES) {
  const option = document.createElement('option');
  option.value = type;
  option.textContent = type;
  auditType.append(option);
}

let selected: AdminUser | undefined;
let userCursor: string | null = null;
let auditCursor: string | null = null;
/** Set while the password step waits for a second factor. */
let awaitingCode = false;

/** A failed admin API answer, with its contract code. */
class AdminApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const EXPLAIN: Record<string, string> = {
  FORBIDDEN: 'This account is not an admin.',
  STEP_UP_REQUIRED: 'This admin has a second factor: sign out and sign in again with it.',
  SESSION_REVOKED: 'Your session was revoked; sign in again.',
  LAST_ADMIN: 'This is the last enabled admin: promote another account first.',
};

function show(el: HTMLElement, text: string): void {
  el.textContent = text;
  el.hidden = text === '';
}

function showError(error: unknown): void {
  const code = error instanceof AdminApiError || error instanceof AuthError ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  show(errorEl, code ? `${code}: ${EXPLAIN[code] ?? message}` : message);
  show(noticeEl, '');
}

function notify(text: string): void {
  show(errorEl, '');
  show(noticeEl, text);
}

/** Calls the admin API; a non-2xx answer throws its `{error, message}`. */
async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, headers: body === undefined ? {} : { 'content-type': 'application/json' } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await client.fetch(path, init);
  if (response.status === 204) return undefined as T;
  const answer = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
  if (!response.ok) throw new AdminApiError(answer.error ?? 'INTERNAL', answer.message ?? `HTTP ${response.status}`);
  return answer as T;
}

const when = (iso: string | null) => (iso === null ? '—' : new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }));

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** An id, shortened for reading (the whole id in its tooltip and `data-id`); `cli` and other short ids as they are. */
function idCell(row: HTMLTableRowElement, id: string | null, role: string): void {
  const td = cell(row, id === null ? '—' : id.length > 12 ? `${id.slice(0, 8)}…` : id, 'mono nowrap');
  if (id !== null) {
    td.title = id;
    td.dataset.id = id;
    td.dataset.role = role;
  }
}

function emptyRow(body: HTMLElement, columns: number, text: string): void {
  const row = document.createElement('tr');
  const td = cell(row, text, 'empty');
  td.colSpan = columns;
  body.append(row);
}

// ── users ────────────────────────────────────────────────────────────────

async function loadUsers(reset: boolean): Promise<void> {
  const query = $<HTMLInputElement>('search').value.trim();
  const params = new URLSearchParams({ limit: '50' });
  if (query) params.set('query', query);
  if (!reset && userCursor) params.set('cursor', userCursor);
  const page = await api<{ users: AdminUser[]; nextCursor: string | null }>('GET', `/admin/users?${params}`);
  if (reset) userRows.replaceChildren();
  for (const user of page.users) {
    const row = document.createElement('tr');
    row.className = `pick${selected?.id === user.id ? ' selected' : ''}`;
    row.dataset.testid = 'user-row';
    row.dataset.email = user.email;
    row.dataset.id = user.id;
    cell(row, user.email);
    cell(row, user.role, 'mono');
    const status = cell(row, '');
    const pill = document.createElement('span');
    pill.className = `pill ${user.disabled ? 'disabled' : 'active'}`;
    pill.textContent = user.disabled ? 'disabled' : 'active';
    status.append(pill);
    cell(row, when(user.createdAt));
    row.addEventListener('click', () => void openUser(user.id).catch(showError));
    userRows.append(row);
  }
  if (reset && page.users.length === 0) emptyRow(userRows, 4, query ? 'No user matches.' : 'No users yet.');
  userCursor = page.nextCursor;
  moreUsers.hidden = userCursor === null;
}

async function openUser(id: string): Promise<void> {
  const detail = await api<{ user: AdminUser; sessions: AdminSession[]; factors: AdminFactor[] }>('GET', `/admin/users/${encodeURIComponent(id)}`);
  const { user } = detail;
  selected = user;
  for (const row of userRows.querySelectorAll<HTMLTableRowElement>('tr')) row.classList.toggle('selected', row.dataset.id === user.id);
  detailEl.hidden = false;
  $('detail-email').textContent = user.email;
  const status = $('detail-status');
  status.textContent = user.disabled ? 'disabled' : 'active';
  status.className = `pill ${user.disabled ? 'disabled' : 'active'}`;
  $('detail-id').textContent = user.id;
  $('detail-created').textContent = when(user.createdAt);
  $('detail-verified').textContent = user.emailVerified ? 'verified' : 'not verified';
  roleInput.value = user.role;
  toggleButton.textContent = user.disabled ? 'Enable' : 'Disable';
  deleteButton.hidden = false;
  deleteConfirm.hidden = true;

  sessionRows.replaceChildren();
  for (const session of detail.sessions) {
    const row = document.createElement('tr');
    row.dataset.testid = 'session-row';
    row.dataset.id = session.id;
    cell(row, when(session.createdAt));
    cell(row, when(session.lastUsedAt));
    cell(row, `${session.acr} · ${session.amr.join('+')}`, 'mono');
    cell(row, session.ip ?? '—', 'mono');
    cell(row, session.userAgent ?? '—');
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.className = 'quiet small';
    revoke.textContent = 'Revoke';
    revoke.dataset.testid = 'revoke-session';
    revoke.addEventListener('click', () => void act(() => revokeSessions(session.id)));
    row.insertCell().append(revoke);
    sessionRows.append(row);
  }
  if (detail.sessions.length === 0) emptyRow(sessionRows, 6, 'No live session.');

  factorList.replaceChildren();
  for (const factor of detail.factors) {
    const item = document.createElement('li');
    item.textContent = `${factor.type === 'totp' ? 'Authenticator app' : 'Passkey'} — added ${when(factor.createdAt)}, last used ${when(factor.lastUsedAt)}`;
    factorList.append(item);
  }
  if (detail.factors.length === 0) {
    const item = document.createElement('li');
    item.className = 'empty';
    item.textContent = 'None.';
    factorList.append(item);
  }
}

/** Runs an admin action, then shows the user and the log as they are now. */
async function act(action: () => Promise<string>): Promise<void> {
  try {
    const done = await action();
    await Promise.all([loadUsers(true), loadAudit(true), selected ? openUser(selected.id).catch(() => undefined) : undefined]);
    notify(done);
  } catch (error) {
    showError(error);
  }
}

async function revokeSessions(sessionId?: string): Promise<string> {
  const user = selected!;
  const { revokedSessions } = await api<{ revokedSessions: number }>(
    'POST',
    `/admin/users/${encodeURIComponent(user.id)}/sessions/revoke`,
    sessionId ? { sessionId } : undefined,
  );
  return `${revokedSessions} session(s) of ${user.email} revoked.`;
}

$('search-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void loadUsers(true).catch(showError);
});
moreUsers.addEventListener('click', () => void loadUsers(false).catch(showError));

$('role-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void act(async () => {
    const user = selected!;
    await api('PATCH', `/admin/users/${encodeURIComponent(user.id)}`, { role: roleInput.value.trim() });
    return `${user.email} now has role ${roleInput.value.trim()}; it reaches their next refresh.`;
  });
});

toggleButton.addEventListener(
  'click',
  () =>
    void act(async () => {
      const user = selected!;
      const { user: after } = await api<{ user: AdminUser }>('PATCH', `/admin/users/${encodeURIComponent(user.id)}`, { disabled: !user.disabled });
      return after.disabled ? `${after.email} is disabled; every session was revoked.` : `${after.email} is enabled again.`;
    }),
);

$('revoke-all').addEventListener('click', () => void act(() => revokeSessions()));

deleteButton.addEventListener('click', () => {
  deleteButton.hidden = true;
  deleteConfirm.hidden = false;
});
deleteConfirm.addEventListener(
  'click',
  () =>
    void act(async () => {
      const user = selected!;
      await api('DELETE', `/admin/users/${encodeURIComponent(user.id)}`);
      selected = undefined;
      detailEl.hidden = true;
      return `${user.email} was deleted.`;
    }),
);

// ── audit ────────────────────────────────────────────────────────────────

async function loadAudit(reset: boolean): Promise<void> {
  const params = new URLSearchParams({ limit: '50' });
  if (auditUser.value.trim()) params.set('userId', auditUser.value.trim());
  if (auditType.value) params.set('type', auditType.value);
  if (!reset && auditCursor) params.set('cursor', auditCursor);
  const page = await api<{ events: AuditEvent[]; nextCursor: string | null }>('GET', `/admin/audit?${params}`);
  if (reset) auditRows.replaceChildren();
  for (const event of page.events) {
    const row = document.createElement('tr');
    row.dataset.testid = 'audit-row';
    row.dataset.type = event.type;
    cell(row, when(event.at), 'nowrap');
    cell(row, event.type, 'mono');
    idCell(row, event.userId, 'user');
    idCell(row, event.actorId, 'actor');
    cell(row, event.ip ?? '—', 'mono nowrap');
    const detail = Object.entries(event.data)
      .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(', ');
    cell(row, detail || '—', 'mono');
    auditRows.append(row);
  }
  if (reset && page.events.length === 0) emptyRow(auditRows, 6, 'No event matches.');
  auditCursor = page.nextCursor;
  moreAudit.hidden = auditCursor === null;
}

$('audit-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void loadAudit(true).catch(showError);
});
moreAudit.addEventListener('click', () => void loadAudit(false).catch(showError));

// ── signing in ───────────────────────────────────────────────────────────

async function render(): Promise<void> {
  signinEl.hidden = client.signedIn;
  consoleEl.hidden = !client.signedIn;
  signoutButton.hidden = !client.signedIn;
  if (!client.signedIn) {
    statusEl.textContent = 'signed out';
    return;
  }
  const me = (await (await client.fetch('/auth/me')).json()) as { email?: string };
  statusEl.textContent = `signed in as ${me.email ?? '?'}`;
  await Promise.all([loadUsers(true), loadAudit(true)]);
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void (async () => {
    try {
      const result = awaitingCode
        ? await client.verifyMfa(passwordInput.value.trim())
        : await client.login($<HTMLInputElement>('signin-email').value, passwordInput.value);
      if (result.mfaRequired) {
        awaitingCode = true;
        passwordInput.value = '';
        passwordInput.type = 'text';
        passwordInput.autocomplete = 'one-time-code';
        passwordInput.previousSibling!.textContent = 'Code from your authenticator app ';
        notify('Enter the code of your second factor.');
        return;
      }
      awaitingCode = false;
      show(errorEl, '');
      show(noticeEl, '');
      await render();
    } catch (error) {
      showError(error);
    }
  })();
});

signoutButton.addEventListener(
  'click',
  () =>
    void (async () => {
      await client.logout();
      selected = undefined;
      detailEl.hidden = true;
      await render();
    })().catch(showError),
);

void (async () => {
  try {
    await client.restore();
    await render();
  } catch (error) {
    showError(error);
  } finally {
    document.documentElement.dataset.ready = 'true';
  }
})();
