/**
 * `latchkey user create --email E --password-stdin [--role R] [--create-database]`
 * `latchkey user import --file users.jsonl [--dry-run] [--create-database]` (`--file -` reads stdin)
 *
 * `latchkey user check-emails [--fix]`
 *
 * `latchkey user list [--query Q] [--json]`, `user show E`, `user set-role E ROLE`,
 * `user disable E`, `user enable E`, `user delete E [--yes]`, `user set-password E --password-stdin`:
 * the administration of docs/admin.md#command-line, with the rules of the admin API (`auth/admin.ts`),
 * audited with actor `cli`. An unknown address exits 1 with one line; `delete` without `--yes`
 * asks on a terminal and refuses (exit 2) when there is none.
 *
 * `create` and `import` refuse when the configured SQLite database does not exist, unless
 * `--create-database` (bootstrapping the first admin, or importing before the first `serve`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT, type CliIo, type Command } from '../io.js';
import { withLatchkey } from '../admin.js';
import { importUsers, parseUserImport, type ImportProblem } from '../../auth/import-users.js';
import { checkEmail } from '../../auth/email.js';
import { CLI_ACTOR, type AdminUserView } from '../../auth/admin.js';
import { parseCommandArgs } from '../inputs.js';

const USAGE =
  'usage: latchkey user create --email E --password-stdin [--role R] [--create-database]\n' +
  '       latchkey user import --file users.jsonl [--dry-run] [--create-database]   (lines: {"email","passwordHash"|"password","role"?})\n' +
  '       latchkey user check-emails [--fix]\n' +
  '       latchkey user list [--query Q] [--json]\n' +
  '       latchkey user show E | set-role E ROLE | disable E | enable E | delete E [--yes]\n' +
  '       latchkey user set-password E --password-stdin\n';

const CREATE_DATABASE = { 'create-database': { type: 'boolean' } } as const;

export const user: Command = async (args, io) => {
  const [sub, ...rest] = args;
  if (sub === 'create') return create(rest, io);
  if (sub === 'import') return importCommand(rest, io);
  if (sub === 'check-emails') return checkEmails(rest, io);
  if (sub === 'list') return list(rest, io);
  if (sub !== undefined && sub in ACCOUNT_COMMANDS) return accountCommand(sub as keyof typeof ACCOUNT_COMMANDS, rest, io);
  io.stderr(USAGE);
  return EXIT.USAGE;
};

async function create(rest: string[], io: CliIo): Promise<number> {
  let values: { email?: string; 'password-stdin'?: boolean; role?: string; 'create-database'?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: { email: { type: 'string' }, 'password-stdin': { type: 'boolean' }, role: { type: 'string' }, ...CREATE_DATABASE },
      strict: true,
    }));
  } catch (error) {
    io.stderr(`${(error as Error).message}\n${USAGE}`);
    return EXIT.USAGE;
  }
  if (!values.email || !values['password-stdin']) {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  // Passwords never come from argv (visible in `ps` and shell history). One trailing newline is ignored.
  const password = (await io.readStdin()).replace(/\r?\n$/, '');
  return withLatchkey(
    io,
    async (latchkey) => {
      const created = await latchkey.auth.createUser(values.email!, password, values.role ?? 'user');
      io.stdout(`${JSON.stringify(created)}\n`);
      return EXIT.OK;
    },
    { createDatabase: values['create-database'] ?? false, offersCreate: true },
  );
}

const report = (io: CliIo, problems: readonly ImportProblem[]) => {
  for (const p of problems) io.stderr(`line ${p.line}: ${p.code}: ${p.message}\n`);
};

async function importCommand(rest: string[], io: CliIo): Promise<number> {
  let values: { file?: string; 'dry-run'?: boolean; 'create-database'?: boolean };
  try {
    ({ values } = parseArgs({ args: rest, options: { file: { type: 'string' }, 'dry-run': { type: 'boolean' }, ...CREATE_DATABASE }, strict: true }));
  } catch (error) {
    io.stderr(`${(error as Error).message}\n${USAGE}`);
    return EXIT.USAGE;
  }
  if (!values.file) {
    io.stderr(USAGE);
    return EXIT.USAGE;
  }
  let text: string;
  try {
    text = values.file === '-' ? await io.readStdin() : await readFile(resolve(io.cwd, values.file), 'utf8');
  } catch (error) {
    io.stderr(`latchkey: cannot read ${values.file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}\n`);
    return EXIT.USAGE;
  }
  // Validate the whole file before writing anything: a bad line stops the import.
  const { users, problems } = parseUserImport(text);
  if (problems.length > 0) {
    report(io, problems);
    io.stdout(`${JSON.stringify({ imported: 0, skipped: 0, rejected: problems.length, valid: users.length })}\n`);
    io.stderr(`latchkey: ${problems.length} invalid line(s); nothing was imported.\n`);
    return EXIT.FAILURE;
  }
  if (values['dry-run']) {
    io.stdout(`${JSON.stringify({ imported: 0, skipped: 0, rejected: 0, valid: users.length, dryRun: true })}\n`);
    return EXIT.OK;
  }
  return withLatchkey(
    io,
    async (latchkey) => {
      const summary = await importUsers(latchkey.store, users, latchkey.now);
      report(io, summary.skipped);
      io.stdout(`${JSON.stringify({ imported: summary.imported, skipped: summary.skipped.length, rejected: 0 })}\n`);
      return EXIT.OK;
    },
    { createDatabase: values['create-database'] ?? false, offersCreate: true },
  );
}

const PAGE = 1000;

/**
 * `user check-emails`: the stored addresses against the e-mail rule (docs/http-api.md#passwords-and-e-mail-addresses),
 * for databases written before it. One JSON line per finding, then a summary:
 * - `collision`: several accounts whose addresses are one address under the rule. Never merged:
 *   the operator decides which account keeps it (the others cannot sign in by address meanwhile,
 *   or reach the wrong one).
 * - `changes`: an address stored in another form than the rule's (NFD, a Unicode domain): its owner
 *   cannot sign in until it is rewritten; `--fix` rewrites it (unless it collides).
 * - `refused`: an address the rule refuses (a zero-width character, a trailing dot…): its owner can
 *   still sign in with it as stored, but should change it.
 * Exit 0 when nothing is left to do, 1 otherwise.
 */
async function checkEmails(rest: string[], io: CliIo): Promise<number> {
  let values: { fix?: boolean };
  try {
    ({ values } = parseArgs({ args: rest, options: { fix: { type: 'boolean' } }, strict: true }));
  } catch (error) {
    io.stderr(`${(error as Error).message}\n${USAGE}`);
    return EXIT.USAGE;
  }
  return withLatchkey(io, async (latchkey) => {
    const byAddress = new Map<string, Array<{ id: string; stored: string }>>();
    const summary = { users: 0, collisions: 0, changes: 0, refused: 0, fixed: 0 };
    const line = (value: object) => io.stdout(`${JSON.stringify(value)}\n`);
    for (let afterId: string | undefined; ; ) {
      const page = await latchkey.store.listUserEmails({ ...(afterId === undefined ? {} : { afterId }), limit: PAGE });
      for (const { id, email } of page) {
        summary.users++;
        const checked = checkEmail(email);
        if (!checked.ok) {
          summary.refused++;
          line({ problem: 'refused', id, stored: email, reason: checked.problem });
          continue;
        }
        const rows = byAddress.get(checked.email) ?? [];
        rows.push({ id, stored: email });
        byAddress.set(checked.email, rows);
      }
      if (page.length < PAGE) break;
      afterId = page.at(-1)!.id;
    }
    for (const [address, rows] of byAddress) {
      if (rows.length > 1) {
        summary.collisions++;
        line({ problem: 'collision', address, accounts: rows });
        continue;
      }
      const [{ id, stored }] = rows as [{ id: string; stored: string }];
      if (stored === address) continue;
      if (values.fix && (await latchkey.store.updateUserEmail(id, stored, address, latchkey.now()))) {
        summary.fixed++;
        line({ problem: 'changes', id, stored, address, fixed: true });
      } else {
        summary.changes++;
        line({ problem: 'changes', id, stored, address, fixed: false });
      }
    }
    line(summary);
    return summary.collisions + summary.changes + summary.refused === 0 ? EXIT.OK : EXIT.FAILURE;
  });
}

/** `user list`: every user in creation order, as a table or (`--json`) one JSON array. */
async function list(rest: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(rest, { query: { type: 'string' }, json: { type: 'boolean' } });
  if (!parsed.ok || parsed.positionals.length > 0) {
    io.stderr(`${parsed.ok ? 'unexpected argument' : parsed.message}\n${USAGE}`);
    return EXIT.USAGE;
  }
  const query = parsed.values.query as string | undefined;
  return withLatchkey(io, async (latchkey) => {
    const users: AdminUserView[] = [];
    let cursor: string | undefined;
    do {
      const page = await latchkey.auth.admin.listUsers({ limit: 200, ...(query ? { query } : {}), ...(cursor ? { cursor } : {}) });
      users.push(...page.users);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    if (parsed.values.json) {
      io.stdout(`${JSON.stringify(users)}\n`);
      return EXIT.OK;
    }
    const rows = [
      ['EMAIL', 'ROLE', 'STATUS', 'VERIFIED', 'CREATED', 'ID'],
      ...users.map((u) => [u.email, u.role, u.disabled ? 'disabled' : 'active', u.emailVerified ? 'yes' : 'no', u.createdAt, u.id]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const row of rows) io.stdout(`${row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')}\n`);
    io.stderr(`${users.length} user(s)\n`);
    return EXIT.OK;
  });
}

/** The commands about one account, named by its address: positional arguments after it, flags. */
const ACCOUNT_COMMANDS = {
  show: { args: 0, options: {} },
  'set-role': { args: 1, options: {} },
  disable: { args: 0, options: {} },
  enable: { args: 0, options: {} },
  delete: { args: 0, options: { yes: { type: 'boolean' } } },
  'set-password': { args: 0, options: { 'password-stdin': { type: 'boolean' } } },
} as const;

async function accountCommand(name: keyof typeof ACCOUNT_COMMANDS, rest: string[], io: CliIo): Promise<number> {
  const spec = ACCOUNT_COMMANDS[name];
  const parsed = parseCommandArgs(rest, spec.options);
  if (!parsed.ok || parsed.positionals.length !== 1 + spec.args) {
    io.stderr(`${parsed.ok ? `latchkey user ${name}: wrong number of arguments` : parsed.message}\n${USAGE}`);
    return EXIT.USAGE;
  }
  const [email, ...args] = parsed.positionals as [string, ...string[]];
  if (name === 'set-password' && !parsed.values['password-stdin']) {
    io.stderr(`latchkey user set-password: the password is read from stdin: pass --password-stdin\n${USAGE}`);
    return EXIT.USAGE;
  }
  // Never delete without a yes: --yes, or the address typed again on a terminal.
  if (name === 'delete' && !parsed.values.yes) {
    if (!io.confirm) {
      io.stderr('latchkey user delete: standard input is not a terminal: pass --yes to delete without asking\n');
      return EXIT.USAGE;
    }
    const answer = await io.confirm(`Delete ${email.slice(0, 320)} and everything it owns? Type the address again to confirm: `);
    if (answer.trim().toLowerCase() !== email.trim().toLowerCase()) {
      io.stderr('latchkey user delete: not confirmed; nothing was deleted\n');
      return EXIT.FAILURE;
    }
  }
  const password = name === 'set-password' ? (await io.readStdin()).replace(/\r?\n$/, '') : '';
  return withLatchkey(io, async (latchkey) => {
    const { admin } = latchkey.auth;
    const user = await admin.findByEmail(email);
    const print = (value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);
    switch (name) {
      case 'show':
        print(await admin.getUser(user.id));
        break;
      case 'set-role':
        print({ user: await admin.updateUser(user.id, { role: args[0]! }, CLI_ACTOR) });
        break;
      case 'disable':
      case 'enable':
        print({ user: await admin.updateUser(user.id, { disabled: name === 'disable' }, CLI_ACTOR) });
        break;
      case 'delete':
        await admin.deleteUser(user.id, CLI_ACTOR);
        print({ deleted: user.id });
        break;
      case 'set-password':
        print({ revokedSessions: await admin.setPassword(user.id, password, CLI_ACTOR) });
        break;
    }
    return EXIT.OK;
  });
}
