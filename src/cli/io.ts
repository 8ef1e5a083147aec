/** What a CLI command may touch, injectable so tests run commands in-process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads all of standard input as UTF-8. */
  readStdin: () => Promise<string>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /**
   * Asks a question on the terminal and resolves the line typed; absent when standard input is
   * not a terminal (a pipe, a script, CI): commands that need a confirmation refuse then.
   */
  confirm?: (question: string) => Promise<string>;
}

/** A CLI command: parses its own arguments and returns the process exit code. */
export type Command = (args: string[], io: CliIo) => Promise<number>;

/** Exit codes shared by every command (docs/http-api.md#exit-codes). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  MALFORMED: 3,
  BAD_SIGNATURE: 4,
  TIME_INVALID: 5,
} as const;

async function askOnTerminal(question: string): Promise<string> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    cwd: process.cwd(),
    ...(process.stdin.isTTY ? { confirm: askOnTerminal } : {}),
  };
}
