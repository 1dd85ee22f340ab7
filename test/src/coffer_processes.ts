/**
 * Runs the real `coffer` binary for end-to-end tests: server processes started from a config
 * file (their gRPC address read from what they print), and CLI commands run to their exit with
 * a given stdin. Children get a clean environment (PATH and a HOME of the test's own), so no
 * token or variable of the test runner leaks into them. Waits have deadlines; nothing sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import type { CofferCommand } from '@coffer/api';
import type { CofferClient } from '@coffer/client';

const main = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
const nodeArgs = [
  '--import',
  'tsx',
  '--conditions=@coffer/source',
  '--disable-warning=DEP0123',
  main,
];

/** How long one command or one server start may take. */
export const processDeadlineMs = 60_000;

/** How to run `coffer` from source (tsx, the @coffer/source condition): DevCluster's command. */
export const cofferCommand = { file: process.execPath, args: nodeArgs } as const;

/** Polls `condition` every 100 ms until it holds (a throw counts as not yet), failing after deadlineMs. */
export async function waitFor(
  what: string,
  condition: () => Promise<boolean>,
  deadlineMs = processDeadlineMs,
): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (await condition().catch(() => false)) {
      return;
    }
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether process pid still runs. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A server process a test started (again), and the end of what it printed. */
export interface SpawnedServer {
  readonly child: ChildProcess;
  /** The last 4 KiB the process wrote to stdout and stderr, for a failure's message. */
  outputTail(): string;
}

/**
 * Starts `coffer server --config <configFile>` (a restart from a node's config), keeping the end
 * of its output; `env` undefined: the test runner's environment.
 */
export function spawnServer(
  configFile: string,
  options: { readonly env?: NodeJS.ProcessEnv; readonly command?: CofferCommand } = {},
): SpawnedServer {
  const command = options.command ?? cofferCommand;
  const child = spawn(command.file, [...command.args, 'server', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString()).slice(-4096);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { child, outputTail: () => tail };
}

/** Runs `step`; if it fails, the error says what `server` printed last. */
export async function withServerOutput<T>(
  server: SpawnedServer,
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}; the server printed last:\n${server.outputTail()}`, {
      cause: error,
    });
  }
}

/** Waits until the node behind `client` knows a leader and has applied all it knows committed. */
export async function waitUntilCaughtUp(what: string, client: CofferClient): Promise<void> {
  await waitFor(what, async () => {
    const seen = (await client.logical.read('sys/leader')).data;
    return (
      Number(seen['leader_id']) > 0 &&
      Number(seen['raft_applied_index']) >= Number(seen['raft_committed_index'])
    );
  });
}

/** The outcome of one command. */
export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** PATH and friends, with HOME set to `home`, plus `extra`. */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'NODE_PATH', 'SYSTEMROOT', 'TMPDIR']) {
    if (process.env[name] !== undefined) {
      env[name] = process.env[name];
    }
  }
  return { ...env, HOME: home, ...extra };
}

/** Runs one `coffer` command to its exit, with `stdin` as its input. */
export function runCoffer(
  args: readonly string[],
  options: { readonly env: NodeJS.ProcessEnv; readonly stdin?: string },
): Promise<Ran> {
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    env: options.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`coffer ${args[0] ?? ''} did not exit in time`));
    }, processDeadlineMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A running `coffer server --config` process. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly grpcAddress: string;
  /** SIGTERM, then resolves with the exit code once the process is gone. */
  stop(): Promise<number | null>;
}

/** Starts `coffer server --config <file>` and resolves once it prints its gRPC address. */
export async function startCofferServer(
  configFile: string,
  env: NodeJS.ProcessEnv,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...nodeArgs, 'server', '--config', configFile], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
    }
    return exited;
  };
  const lines = createInterface({ input: child.stdout });
  const timer = setTimeout(() => child.kill('SIGKILL'), processDeadlineMs);
  try {
    for await (const line of lines) {
      const match = /gRPC API:\s+(\S+)/.exec(line);
      if (match?.[1] !== undefined) {
        return { child, grpcAddress: match[1], stop };
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error('the server exited before it printed its gRPC address');
}
