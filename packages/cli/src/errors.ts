/**
 * Error codes and the error class for operating failures in @coffer/cli.
 *
 * Codes are stable strings "COFFER_CLI_<WHAT>" (STYLE.md 5.2): callers match on `err.code`,
 * never on the message. Every code here is listed in docs/errors.md. A message names what was
 * wrong and what to do, and never holds a secret: not a value, a share, a token, nor an argument
 * that might be one (STYLE.md 5.6, 5.7).
 */

/** Every error code that @coffer/cli throws, keyed by a short name. */
export const CliErrorCode = {
  /** An argument or option is malformed (a `k=v` pair, a path, a number, an unseal argument). */
  invalidArgument: 'COFFER_CLI_INVALID_ARGUMENT',
  /** No CA certificate was given: neither `--ca-cert` nor COFFER_CACERT. */
  caCertMissing: 'COFFER_CLI_CA_CERT_MISSING',
  /** A file named on the command line or in the environment could not be read. */
  fileUnreadable: 'COFFER_CLI_FILE_UNREADABLE',
  /** The login token file is readable by group or others, so it was not read. */
  tokenFileInsecure: 'COFFER_CLI_TOKEN_FILE_INSECURE',
  /**
   * A command that needs a token found none: no `--token-file`, no COFFER_TOKEN, no login token
   * file, or the token file named is empty.
   */
  tokenMissing: 'COFFER_CLI_TOKEN_MISSING',
  /** The login token file could not be written. */
  tokenFileWriteFailed: 'COFFER_CLI_TOKEN_FILE_WRITE_FAILED',
  /** A secret was to be read from the prompt or stdin, and none came (empty input or EOF). */
  inputMissing: 'COFFER_CLI_INPUT_MISSING',
  /** The server's answer lacks what the command needs (a login without a token). */
  unexpectedResponse: 'COFFER_CLI_UNEXPECTED_RESPONSE',
} as const;

/** The union of every @coffer/cli error code string. */
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

/** Options for {@link CliError}; pass `cause` whenever wrapping another error (STYLE.md 5.4). */
export interface CliErrorOptions {
  /** The error or value that caused this one. */
  readonly cause?: unknown;
}

/**
 * An operating failure on the command line's side (bad input, unreadable file). The command
 * prints `Error: <message> (<code>)` and exits 1.
 */
export class CliError extends Error {
  /** The stable code to match on. */
  readonly code: CliErrorCode;

  /** Creates an error; the message says what to do and holds no secret. */
  constructor(code: CliErrorCode, message: string, options?: CliErrorOptions) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
}

/**
 * The one line every command error prints on stderr: `Error: <message> (<code>)`, whether the
 * failure is local (COFFER_CLI_*) or the server's, so scripts and people read one shape.
 */
export function errorLine(message: string, code: string): string {
  return `Error: ${message} (${code})\n`;
}

/** The `code` of a system error (ENOENT, EACCES), for messages; `unknown` when it has none. */
export function systemCodeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown';
}
