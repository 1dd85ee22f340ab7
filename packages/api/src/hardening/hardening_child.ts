/**
 * Test child for harden_process_child.test.ts: prints its core limit, runs hardenProcess on
 * its real process (dev mode when the first argument is "dev"), prints the log and the outcome
 * as JSON lines, then waits for stdin to end and exits 0; a refusal exits 3 after printing its
 * code and message.
 */
import { readFileSync } from 'node:fs';

import { ApiError } from '../errors.ts';
import { parseCoreLimit } from './core_dumps.ts';
import { hardenProcess } from './harden_process.ts';

function print(line: Readonly<Record<string, unknown>>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const log = {
  info: (event: string, fields?: Readonly<Record<string, unknown>>) => {
    print({ level: 'info', event, ...fields });
  },
  warn: (event: string, fields?: Readonly<Record<string, unknown>>) => {
    print({ level: 'warn', event, ...fields });
  },
};

print({
  event: 'started',
  pid: process.pid,
  coreLimit: parseCoreLimit(readFileSync('/proc/self/limits', 'utf8')),
});
try {
  hardenProcess({
    dev: process.argv[2] === 'dev',
    env: process.env,
    execArgv: process.execArgv,
    log,
  });
} catch (error) {
  if (!(error instanceof ApiError)) {
    throw error;
  }
  print({ event: 'refused', code: error.code, message: error.message });
  process.exit(3);
}
print({ event: 'hardened', pid: process.pid });
process.stdin.resume();
process.stdin.on('end', () => {
  process.exit(0);
});
