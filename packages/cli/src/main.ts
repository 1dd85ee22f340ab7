#!/usr/bin/env -S tsx --conditions=@coffer/source --disable-warning=DEP0123
/**
 * The `coffer` binary: runs the command tree on process.argv and exits with the command's code
 * (1 on a usage error, as commander reports it).
 *
 * NB: the bin runs the TypeScript source through tsx until the package ships a build.
 * NB: DEP0123 is off: grpc-js sends an IP target as the TLS server name, which Node flags once
 * per process with a warning no user can act on.
 */

// NB: Node opens the inspector on SIGUSR1 unless a listener is installed, and Node 20 has no flag
// to turn that off. This listener goes in before anything else loads (hence the dynamic imports
// below): `coffer server` installs its logging guard only after loading the server stack and
// its config (hardenProcess), and every command may hold a share or a token in its heap.
process.on('SIGUSR1', () => undefined);

const { CommanderError } = await import('commander');
const { createNodeContext } = await import('./node_context.ts');
const { createProgram } = await import('./program.ts');

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
