/**
 * The real CliContext of the `coffer` process: process streams, process.env, the home
 * directory, and `CofferClient` from @coffer/client.
 */
import { homedir } from 'node:os';

import { CofferClient } from '@coffer/client';

import type { CliContext } from './cli_context.ts';
import { createStreamInput } from './stream_input.ts';

/** The context of the running process. */
export function createNodeContext(): CliContext {
  const stderr = (text: string): void => {
    process.stderr.write(text);
  };
  return {
    stdout: (text: string) => {
      process.stdout.write(text);
    },
    stderr,
    input: createStreamInput(process.stdin, stderr),
    env: process.env,
    homeDirectory: homedir(),
    createClient: (options) => new CofferClient(options),
  };
}
