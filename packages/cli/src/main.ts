#!/usr/bin/env -S tsx --conditions=@coffer/source
/**
 * The `coffer` binary: runs the command tree on process.argv and exits with the command's code
 * (1 on a usage error, as commander reports it).
 *
 * NB: the bin runs the TypeScript source through tsx until the package ships a build.
 */
import { CommanderError } from 'commander';

import { createProgram } from './program.ts';

const io = {
  stdout: (text: string) => process.stdout.write(text),
  stderr: (text: string) => process.stderr.write(text),
};

try {
  await createProgram(io, (code) => {
    process.exitCode = code;
  }).parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) {
    throw error;
  }
  process.exitCode = error.exitCode;
}
