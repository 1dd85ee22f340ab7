/**
 * The server log: JSON lines through pino, with the redaction of secret-bearing fields
 * configured here, in one place. Callers log an event name and non-secret fields (codes, paths,
 * counts, accessors); the redaction is the second line of defence, for a field that should never
 * have been passed. Secrets never go in the event name: it is a fixed identifier.
 *
 * The audit log is not this log: audit devices write their own hash-chained files (audit/).
 */
import { pino, type DestinationStream, type Logger } from 'pino';

/** Fields of one log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Where the core's subsystems log: an event name and fields. */
export interface ServerLog {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

/** Field names whose values are never logged, at any of the first three levels of nesting. */
export const redactedFieldNames: readonly string[] = [
  'token',
  'clientToken',
  'client_token',
  'wrappingToken',
  'rootToken',
  'root_token',
  'secret_id',
  'secretId',
  'password',
  'data',
  'value',
  'values',
  'share',
  'shares',
  'keys',
  'key',
  'pin',
  'otp',
  'jwt',
  'authorization',
  'salt',
];

/** The censor written in place of a redacted value. */
export const redactedCensor = '[redacted]';

/** The redaction paths for pino: each name at the top level and two levels down. */
export function redactionPaths(names: readonly string[] = redactedFieldNames): string[] {
  return names.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]);
}

/** Options of the server log. */
export interface ServerLogOptions {
  /** A file descriptor (1 for stdout) or a file path to append to. */
  readonly destination: number | string;
  readonly level?: 'debug' | 'info' | 'warn' | 'error';
  /** Write each line synchronously (tests, and short-lived commands). Default false. */
  readonly sync?: boolean;
}

/** Wraps a pino logger as a ServerLog. */
class PinoServerLog implements ServerLog {
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  info(event: string, fields: LogFields = {}): void {
    this.#logger.info({ ...fields, event });
  }

  warn(event: string, fields: LogFields = {}): void {
    this.#logger.warn({ ...fields, event });
  }

  error(event: string, fields: LogFields = {}): void {
    this.#logger.error({ ...fields, event });
  }
}

/** A server log writing JSON lines to the destination, secret-bearing fields redacted. */
export function createServerLog(options: ServerLogOptions): ServerLog {
  const destination: DestinationStream = pino.destination({
    dest: options.destination,
    sync: options.sync ?? false,
    ...(typeof options.destination === 'string' ? { mkdir: true } : {}),
  });
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: redactionPaths(), censor: redactedCensor },
    },
    destination,
  );
  return new PinoServerLog(logger);
}

/** A log that drops everything (the default when none is configured). */
export const silentServerLog: ServerLog = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
