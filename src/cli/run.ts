/**
 * `latchkey` command line. Each command lives in its own module under `commands/` and is
 * loaded only when called, so `latchkey decode` never opens a database.
 */
import { EXIT, type Command, type CliIo } from './io.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  serve: { summary: 'run the auth server', load: async () => (await import('./commands/serve.js')).serve },
  decode: { summary: 'decode and lint a JWT', load: async () => (await import('./commands/decode.js')).decode },
  verify: { summary: 'verify a JWT with a key', load: async () => (await import('./commands/verify.js')).verify },
  user: {
    summary:
      'user create --email E --password-stdin [--role R] | import --file F  [--create-database] | check-emails [--fix]\n' +
      '             | list [--query Q] [--json] | show E | set-role E ROLE | disable E | enable E | delete E [--yes]\n' +
      '             | set-password E --password-stdin',
    load: async () => (await import('./commands/user.js')).user,
  },
  keys: { summary: 'keys rotate', load: async () => (await import('./commands/keys.js')).keys },
  sessions: { summary: 'sessions revoke --email E', load: async () => (await import('./commands/sessions.js')).sessions },
  audit: { summary: 'audit tail [--follow] [--limit N]', load: async () => (await import('./commands/audit.js')).audit },
  mail: { summary: 'mail test --to E | mail outbox [--json]', load: async () => (await import('./commands/mail.js')).mail },
  webhooks: {
    summary: 'webhooks list [--state S] [--after ID] [--limit N] [--json] | webhooks retry [--id ID ...]',
    load: async () => (await import('./commands/webhooks.js')).webhooks,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`);
  return `usage: latchkey <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(usage());
    return name ? EXIT.OK : EXIT.USAGE;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`latchkey: unknown command "${name}"\n${usage()}`);
    return EXIT.USAGE;
  }
  return (await command.load())(rest, io);
}
