/**
 * `latchkey user create --email E --password-stdin [--role R] [--create-database]`
 * `latchkey user import --file users.jsonl [--dry-run] [--create-database]` (`--file -` reads stdin)
 *
 * Both refuse when the configured SQLite database does not exist, unless `--create-database`
 * (bootstrapping the first admin, or importing before the first `serve`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT, type CliIo, type Command } from '../io.js';
import { withLatchkey } from '../admin.js';
import { importUsers, parseUserImport, type ImportProblem } from '../../auth/import-users.js';

const USAGE =
  'usage: latchkey user create --email E --password-stdin [--role R] [--create-database]\n' +
  '       latchkey user import --file users.jsonl [--dry-run] [--create-database]   (lines: {"email","passwordHash"|"password","role"?})\n';

const CREATE_DATABASE = { 'create-database': { type: 'boolean' } } as const;

export const user: Command = async (args, io) => {
  const [sub, ...rest] = args;
  if (sub === 'create') return create(rest, io);
  if (sub === 'import') return importCommand(rest, io);
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
