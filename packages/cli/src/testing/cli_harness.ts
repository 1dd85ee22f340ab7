/**
 * Runs the `coffer` command tree in-process: a CliContext with buffers for stdout and stderr,
 * stdin from a string (or a fake terminal), a temporary home directory and the client double.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { CommanderError } from 'commander';

import type { CliContext } from '../cli_context.ts';
import { createProgram } from '../program.ts';
import { createStreamInput, type InputStream } from '../stream_input.ts';
import { ClientDouble } from './client_double.ts';

/** What a run printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A temporary home directory with a CA file, and the client double. */
export interface CliHarness {
  readonly home: string;
  readonly caPath: string;
  readonly client: ClientDouble;
  /** Runs `coffer <args>`; stdin is `stdin` (then end), or a fake terminal typing `tty`. */
  run(
    args: readonly string[],
    options?: {
      readonly stdin?: string;
      readonly tty?: string;
      readonly env?: Record<string, string>;
    },
  ): Promise<CliRun>;
  /** Removes the home directory. */
  dispose(): Promise<void>;
}

/** A fake terminal: raw mode recorded, `typed` delivered once a reader listens. */
function fakeTerminal(typed: string): InputStream & { rawModes: boolean[] } {
  const stream = new PassThrough();
  const rawModes: boolean[] = [];
  return Object.assign(stream, {
    isTTY: true,
    rawModes,
    setRawMode(mode: boolean) {
      rawModes.push(mode);
      if (mode) {
        stream.write(typed);
      }
      return stream;
    },
  });
}

function stdinOf(options: { readonly stdin?: string; readonly tty?: string }): InputStream {
  if (options.tty !== undefined) {
    return fakeTerminal(options.tty);
  }
  const stream = new PassThrough();
  stream.end(options.stdin ?? '');
  return stream;
}

/**
 * Makes a harness; the CA file holds a placeholder (the double does not read it). With
 * `token`, every run has COFFER_TOKEN set to it unless its own `env` says otherwise (an empty
 * COFFER_TOKEN counts as unset, so a run can still fall through to the login token file).
 */
export async function createCliHarness(
  harnessOptions: { readonly token?: string } = {},
): Promise<CliHarness> {
  const home = await mkdtemp(join(tmpdir(), 'coffer-cli-'));
  const caPath = join(home, 'ca.pem');
  await writeFile(caPath, '-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n');
  const client = new ClientDouble();
  const run: CliHarness['run'] = async (args, options = {}) => {
    let stdout = '';
    let stderr = '';
    let code = 0;
    const writeErr = (text: string): void => {
      stderr += text;
    };
    const context: CliContext = {
      stdout: (text) => {
        stdout += text;
      },
      stderr: writeErr,
      input: createStreamInput(stdinOf(options), writeErr),
      env: {
        COFFER_CACERT: caPath,
        ...(harnessOptions.token === undefined ? {} : { COFFER_TOKEN: harnessOptions.token }),
        ...options.env,
      },
      homeDirectory: home,
      createClient: client.factory,
    };
    try {
      await createProgram(context, (exit) => {
        code = exit;
      }).parseAsync(['node', 'coffer', ...args]);
    } catch (error) {
      if (!(error instanceof CommanderError)) {
        throw error;
      }
      code = error.exitCode;
    }
    return { code, stdout, stderr };
  };
  return { home, caPath, client, run, dispose: () => rm(home, { recursive: true, force: true }) };
}
