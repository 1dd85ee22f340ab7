/**
 * Where commands write: the process's stdout and stderr in main.ts, buffers in tests. Commands
 * return their exit code instead of calling process.exit, so they can be run in-process.
 */

/** The output streams of a command. */
export interface CliIo {
  /** Writes text (with its own newlines) to standard output. */
  readonly stdout: (text: string) => void;
  /** Writes text (with its own newlines) to standard error. */
  readonly stderr: (text: string) => void;
}

/** Output formats every data-printing command takes (PRODUCT.md: `--format json|table`). */
export const OutputFormat = { json: 'json', table: 'table' } as const;
/** Union of {@link OutputFormat} values. */
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];
