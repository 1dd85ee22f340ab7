/**
 * CliInput over a readable stream: process.stdin in main.ts, a PassThrough in tests. Nothing
 * is read until a command asks, so commands that take no input never hold stdin open; the
 * stream is paused again after each read so the process can exit.
 *
 * On a terminal, readHidden turns echo off (raw mode) and reads one line, handling backspace,
 * Ctrl-C and Ctrl-D; what was typed is never written back.
 */
import type { CliInput } from './cli_context.ts';

/** The parts of a stream (process.stdin or a test double) that reading needs. */
export interface InputStream {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  removeListener(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** Reads lines and whole input from a stream, buffering what a read did not consume. */
class StreamInput implements CliInput {
  readonly isTty: boolean;
  readonly #stream: InputStream;
  readonly #writePrompt: (text: string) => void;
  #buffered = '';
  #ended = false;
  #listening = false;
  #wake: (() => void) | undefined;

  constructor(stream: InputStream, writePrompt: (text: string) => void) {
    this.#stream = stream;
    this.#writePrompt = writePrompt;
    this.isTty = stream.isTTY === true;
  }

  #listen(): void {
    if (!this.#listening) {
      this.#listening = true;
      this.#stream.on('data', (chunk) => {
        this.#buffered += chunk.toString();
        this.#wake?.();
      });
      this.#stream.on('end', () => {
        this.#ended = true;
        this.#wake?.();
      });
    }
  }

  /** Waits until `done` holds for the buffer (or the stream ends). */
  async #waitFor(done: () => boolean): Promise<void> {
    this.#listen();
    this.#stream.resume();
    while (!done() && !this.#ended) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    this.#stream.pause();
  }

  async readAll(): Promise<string> {
    await this.#waitFor(() => false);
    const all = this.#buffered;
    this.#buffered = '';
    return all;
  }

  async readLine(): Promise<string | undefined> {
    await this.#waitFor(() => this.#buffered.includes('\n'));
    const end = this.#buffered.indexOf('\n');
    if (end < 0) {
      const rest = this.#buffered;
      this.#buffered = '';
      return rest === '' ? undefined : stripCarriageReturn(rest);
    }
    const line = this.#buffered.slice(0, end);
    this.#buffered = this.#buffered.slice(end + 1);
    return stripCarriageReturn(line);
  }

  readHidden(prompt: string): Promise<string | undefined> {
    this.#writePrompt(prompt);
    return readWithoutEcho(this.#stream).finally(() => {
      this.#writePrompt('\n');
    });
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** One line typed on a terminal in raw mode; undefined on Ctrl-C, or Ctrl-D on an empty line. */
function readWithoutEcho(stream: InputStream): Promise<string | undefined> {
  return new Promise((resolve) => {
    let typed = '';
    const finish = (value: string | undefined): void => {
      stream.removeListener('data', onData);
      stream.setRawMode?.(false);
      stream.pause();
      resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n') {
          finish(typed);
          return;
        }
        if (char === '\u0003' || (char === '\u0004' && typed === '')) {
          finish(undefined);
          return;
        }
        typed = char === '\u007f' || char === '\b' ? typed.slice(0, -1) : typed + char;
      }
    };
    stream.setRawMode?.(true);
    stream.on('data', onData);
    stream.resume();
  });
}

/** A CliInput over `stream`; prompts go to `writePrompt` (stderr). */
export function createStreamInput(
  stream: InputStream,
  writePrompt: (text: string) => void,
): CliInput {
  return new StreamInput(stream, writePrompt);
}
