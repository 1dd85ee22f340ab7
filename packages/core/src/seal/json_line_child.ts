/**
 * Test support (not exported): a TypeScript script forked through the tsx loader that prints
 * one JSON object per line. Tests wait on a matching line or the exit, each with a deadline,
 * never a fixed sleep.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One parsed output line. */
export type JsonLine = Record<string, unknown>;

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** One run of a child script: its parsed lines, raw output and exit. */
export class JsonLineChild {
  readonly lines: JsonLine[] = [];
  output = '';
  readonly exited: Promise<number | null>;
  readonly #process: ChildProcess;
  readonly #deadlineMs: number;
  #waiters: (() => void)[] = [];

  /** Forks script with args and env; waits give up after deadlineMs. */
  constructor(
    script: string,
    options: {
      readonly args: readonly string[];
      readonly env: NodeJS.ProcessEnv;
      readonly deadlineMs: number;
    },
  ) {
    this.#deadlineMs = options.deadlineMs;
    this.#process = fork(script, [...options.args], {
      cwd: repoRoot,
      env: options.env,
      execArgv: ['--conditions=@coffer/source', '--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let pending = '';
    this.#process.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts) {
        this.lines.push(JSON.parse(part) as JsonLine);
      }
      this.#wake();
    });
    this.#process.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
    this.exited = new Promise((resolve) =>
      this.#process.once('exit', (code) => {
        this.#wake();
        resolve(code);
      }),
    );
  }

  /** Resolves with the first line matching predicate; throws after the deadline or the exit. */
  async waitFor(what: string, predicate: (line: JsonLine) => boolean): Promise<JsonLine> {
    const started = performance.now();
    for (;;) {
      const found = this.lines.find(predicate);
      if (found !== undefined) {
        return found;
      }
      if (performance.now() - started > this.#deadlineMs || this.#process.exitCode !== null) {
        throw new Error(`No "${what}" line from the child; it printed:\n${this.output}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#deadlineMs);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  kill(): void {
    this.#process.kill('SIGKILL');
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) {
      wake();
    }
  }
}
