/**
 * Test support (not exported): a TypeScript script run in a real child process through the
 * tsx loader, as `node --conditions=@coffer/source --import tsx <script>`. It collects stdout
 * as JSON lines and stderr as text; tests wait on a line with a deadline, never a fixed sleep.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One parsed stdout line. */
export type JsonLine = Readonly<Record<string, unknown>>;

/** How to start a {@link LineChild}. */
export interface LineChildOptions {
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Extra Node options placed before the script (e.g. --inspect-port=<port>). */
  readonly nodeOptions?: readonly string[];
  /** A program and its arguments that exec node, e.g. ["prlimit", "--core=0:0", "--"]. */
  readonly wrapper?: readonly string[];
  readonly deadlineMs: number;
}

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** One run of a child script. */
export class LineChild {
  readonly lines: JsonLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  readonly #process: ChildProcess;
  readonly #deadlineMs: number;
  #waiters: (() => void)[] = [];

  constructor(script: string, options: LineChildOptions) {
    this.#deadlineMs = options.deadlineMs;
    const nodeArgs = [
      '--conditions=@coffer/source',
      '--import',
      'tsx',
      ...(options.nodeOptions ?? []),
      script,
      ...options.args,
    ];
    const [wrapper, ...wrapperArgs] = options.wrapper ?? [];
    const command = wrapper ?? process.execPath;
    const args = wrapper === undefined ? nodeArgs : [...wrapperArgs, process.execPath, ...nodeArgs];
    this.#process = spawn(command, args, {
      cwd: repoRoot,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.#process.once('exit', (code) => {
        this.#wake();
        resolve(code);
      });
    });
    this.#collect();
  }

  /** The child's pid (the wrapper's, which becomes node's when the wrapper execs). */
  get pid(): number {
    return this.#process.pid ?? -1;
  }

  /** Resolves with the first stdout line matching `predicate`; throws at the deadline or exit. */
  async waitForLine(what: string, predicate: (line: JsonLine) => boolean): Promise<JsonLine> {
    return this.#waitFor(what, () => this.lines.find(predicate));
  }

  /** Resolves when stderr matches `pattern`; throws at the deadline or exit. */
  async waitForStderr(pattern: RegExp): Promise<RegExpMatchArray> {
    return this.#waitFor(String(pattern), () => this.stderr.match(pattern) ?? undefined);
  }

  /** Writes one line to the child's stdin. */
  send(line: string): void {
    this.#process.stdin?.write(`${line}\n`);
  }

  /** Closes stdin (the scripts exit 0 on it) and resolves with the exit code. */
  async end(): Promise<number | null> {
    this.#process.stdin?.end();
    return this.exited;
  }

  /** Sends a signal to the child. */
  signal(signal: NodeJS.Signals): void {
    this.#process.kill(signal);
  }

  #collect(): void {
    let pending = '';
    this.#process.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const part of parts.filter((text) => text.trim() !== '')) {
        this.lines.push(JSON.parse(part) as JsonLine);
      }
      this.#wake();
    });
    this.#process.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
      this.#wake();
    });
  }

  async #waitFor<T>(what: string, find: () => T | undefined): Promise<T> {
    const started = performance.now();
    for (;;) {
      const found = find();
      if (found !== undefined) {
        return found;
      }
      const exited = this.#process.exitCode !== null || this.#process.signalCode !== null;
      if (exited || performance.now() - started > this.#deadlineMs) {
        const output = `${JSON.stringify(this.lines)}\n${this.stderr}`;
        throw new Error(`No ${what} from the child; it printed:\n${output}`);
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

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) {
      wake();
    }
  }
}
