/**
 * One node of `coffer dev cluster`: a real `coffer server --config <file>` child process, its
 * output copied to a file beside its config, started once and never restarted.
 *
 *   spawn (own process group) ─▶ "gRPC API: <address>" on stdout ─▶ running ─▶ exited
 *                                      │ exit, deadline or abort first: start fails
 *   stop(): SIGTERM ─▶ (grace over) SIGKILL ─▶ exited
 *
 * NB: the child gets a process group of its own (detached), so a Ctrl-C on the terminal
 * reaches only the dev cluster command, which then stops each node with one SIGTERM. A node that
 * got the terminal's SIGINT too would take the command's SIGTERM as a second stop signal and
 * exit at once, without its graceful close.
 * Invariant: the child's environment holds no secret-bearing variable and no inspector option:
 * outside dev mode `coffer server` refuses to start with either.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { isDebuggerOption, splitNodeOptions } from '../hardening/debugger_flags.ts';
import { secretEnvironmentVariables } from '../hardening/secret_environment.ts';

/** How to run the `coffer` binary: the executable and the arguments before the command. */
export interface CofferCommand {
  /** The executable, e.g. process.execPath. */
  readonly file: string;
  /** The arguments before `server --config <file>`: Node options and the script. */
  readonly args: readonly string[];
}

/** How a node process ended. */
export interface NodeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What {@link NodeProcess.start} needs. */
export interface NodeProcessOptions {
  readonly command: CofferCommand;
  readonly configFile: string;
  /** Where the child's stdout and stderr are copied (appended). */
  readonly outputFile: string;
  /** The environment to start from; secret-bearing and inspector settings are removed. */
  readonly env: NodeJS.ProcessEnv;
  /** How long the child may take to print its gRPC address. */
  readonly deadlineMs: number;
  /** Aborts the start (the child is killed). */
  readonly signal?: AbortSignal;
}

/** How many of the child's last stderr lines a failed start quotes. */
const quotedLinesMax = 5;

/** `env` without secret-bearing variables and with NODE_OPTIONS stripped of inspector options. */
export function nodeEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const secret = new Set<string>(secretEnvironmentVariables);
  const clean: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (!secret.has(name) && value !== undefined) {
      clean[name] = value;
    }
  }
  const nodeOptions = clean['NODE_OPTIONS'];
  if (nodeOptions !== undefined) {
    clean['NODE_OPTIONS'] = splitNodeOptions(nodeOptions)
      .filter((option) => !isDebuggerOption(option))
      .join(' ');
  }
  return clean;
}

/** The Node options a child may inherit: `execArgv` without inspector options. */
export function childExecArgv(execArgv: readonly string[]): readonly string[] {
  return execArgv.filter((option) => !isDebuggerOption(option));
}

/** A running (or exited) node process. */
export class NodeProcess {
  readonly pid: number;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<NodeExit>;
  /** The gRPC address the node printed. */
  readonly grpcAddress: string;
  readonly #child: ChildProcess;
  #exit: NodeExit | undefined;

  private constructor(
    child: ChildProcess,
    exited: Promise<NodeExit>,
    parts: { readonly pid: number; readonly grpcAddress: string },
  ) {
    this.#child = child;
    this.pid = parts.pid;
    this.grpcAddress = parts.grpcAddress;
    this.exited = exited.then((exit) => {
      this.#exit = exit;
      return exit;
    });
  }

  /**
   * Spawns `coffer server --config <configFile>` and resolves once it prints its gRPC address.
   * Throws COFFER_API_DEV_SETUP_FAILED (the child killed) when it exits first, the deadline
   * passes or `signal` aborts; the message quotes the child's last stderr lines.
   */
  static async start(options: NodeProcessOptions): Promise<NodeProcess> {
    const output = createWriteStream(options.outputFile, { flags: 'a', mode: 0o600 });
    const child = spawn(
      options.command.file,
      [...options.command.args, 'server', '--config', options.configFile],
      { env: nodeEnvironment(options.env), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    const exited = new Promise<NodeExit>((resolve) => {
      child.once('error', () => {
        resolve({ code: null, signal: null });
      });
      child.once('close', (code, signal) => {
        output.end();
        resolve({ code, signal });
      });
    });
    const stderrLines = copyOutput(child, output);
    try {
      const grpcAddress = await waitForAddress(child, exited, options);
      return new NodeProcess(child, exited, { pid: child.pid ?? 0, grpcAddress });
    } catch (error) {
      child.kill('SIGKILL');
      await exited;
      const quoted = stderrLines.slice(-quotedLinesMax).join('\n  ');
      const detail = quoted === '' ? '' : `; its last output:\n  ${quoted}`;
      throw new ApiError(
        ApiErrorCode.devSetupFailed,
        `${error instanceof Error ? error.message : 'the node did not start'}${detail}`,
        { cause: error },
      );
    }
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /** SIGTERM (the server's graceful close), then SIGKILL once `graceMs` has passed. */
  async stop(graceMs: number): Promise<NodeExit> {
    if (this.running) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => {
        this.kill();
      }, graceMs);
      const exit = await this.exited;
      clearTimeout(timer);
      return exit;
    }
    return this.exited;
  }

  /** SIGKILL now. */
  kill(): void {
    if (this.running) {
      this.#child.kill('SIGKILL');
    }
  }
}

/** Copies stdout and stderr to `output`; returns the stderr lines seen so far (kept bounded). */
function copyOutput(child: ChildProcess, output: WriteStream): string[] {
  const lines: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.write(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    output.write(chunk);
    lines.push(
      ...chunk
        .toString()
        .split('\n')
        .filter((line) => line.trim() !== ''),
    );
    lines.splice(0, Math.max(0, lines.length - quotedLinesMax));
  });
  return lines;
}

/** Resolves with the address of the child's "gRPC API:" line; rejects on exit, deadline or abort. */
function waitForAddress(
  child: ChildProcess,
  exited: Promise<NodeExit>,
  options: NodeProcessOptions,
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const stdout = child.stdout;
    if (stdout === null) {
      reject(new Error('the node process has no stdout'));
      return;
    }
    const lines = createInterface({ input: stdout });
    const done = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      lines.close();
      // NB: keeps draining stdout into the output file once the line is read.
      stdout.resume();
    };
    const onAbort = (): void => {
      done();
      reject(new Error('the start was interrupted'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`the node did not print its gRPC address within ${options.deadlineMs} ms`));
    }, options.deadlineMs);
    if (options.signal?.aborted === true) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    lines.on('line', (line) => {
      const address = /gRPC API:\s+(\S+)/.exec(line)?.[1];
      if (address !== undefined) {
        done();
        resolve(address);
      }
    });
    void exited.then((exit) => {
      done();
      reject(new Error(`the node exited before it was serving (${exitText(exit)})`));
    });
  });
}

/** "exit code 1" or "signal SIGKILL". */
export function exitText(exit: NodeExit): string {
  return exit.signal === null ? `exit code ${String(exit.code)}` : `signal ${exit.signal}`;
}
