#!/usr/bin/env node
import { main } from './run.js';
import { processIo, EXIT } from './io.js';

main(process.argv.slice(2), processIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`latchkey: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.FAILURE;
  },
);
