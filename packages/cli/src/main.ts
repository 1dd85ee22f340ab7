#!/usr/bin/env -S tsx --conditions=@coffer/source --disable-warning=DEP0123
/**
 * The `coffer` binary: runs the command tree on process.argv and exits with the command's code
 * (1 on a usage error, as commander reports it).
 *
 * NB: the bin runs the TypeScript source through tsx until the package ships a build.
 * NB: DEP0123 is off: grpc-js sends an IP target as the TLS server name, which Node flags once
 * per process with a warning no user can act on.
 */
import { CommanderError } from 'commander';

import { createNodeContext } from './node_context.ts';
import { createProgram } from './program.ts';

try {
  await createProgram(createNodeContext(), (code) => {
    process.exitCode = code;
  }).parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) {
    throw error;
  }
  process.exitCode = error.exitCode;
}
