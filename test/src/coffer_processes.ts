/**
 * Runs the real `coffer` binary for end-to-end tests: server processes started from a config
 * file (their gRPC address read from what they print), and CLI commands run to their exit with
 * a given stdin. Children get a clean environment (PATH and a HOME of the test's own), so no
 * token or variable of the test runner leaks into them. Waits have deadlines; nothing sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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
