/**
 * grpc-js's own logging in the server process. By default grpc-js writes raw lines to stderr
 * (`E No address added out of total 1 resolved` when the gRPC port is taken), ahead of and
 * apart from the server's own messages. {@link routeGrpcLogging} replaces its logger once:
 * error lines go to the server log as `grpc_library_error`; info and debug lines (traces, asked
 * for with GRPC_TRACE) are dropped.
 *
 * Invariant: only the text before the first ": " of a grpc-js line is logged. grpc-js puts
 * values after it (a refused metadata entry's value, which may be a token), and the server log
 * never holds a secret.
 */
import type { ServerLog } from '@coffer/core';
import { logVerbosity, setLogger, setLogVerbosity } from '@grpc/grpc-js';

/** The log grpc-js lines go to: the one of the server started last. */
let target: ServerLog | undefined;
/** How many listener binds are under way; their grpc-js lines are dropped. */
let binding = 0;

function headOf(message: unknown): string {
  const text = typeof message === 'string' ? message : String(message);
  const colon = text.indexOf(': ');
  return colon === -1 ? text : text.slice(0, colon);
}

const grpcLogger: Partial<Console> = {
  error: (message?: unknown) => {
    if (binding === 0) {
      target?.error('grpc_library_error', { message: headOf(message) });
    }
  },
  // NB: present so that grpc-js does not fall back to error() for these levels.
  info: () => undefined,
  debug: () => undefined,
};

/** Sends grpc-js's error lines to `log` from now on, and nothing of grpc-js to stderr. */
export function routeGrpcLogging(log: ServerLog): void {
  if (target === undefined) {
    setLogger(grpcLogger);
    setLogVerbosity(logVerbosity.ERROR);
  }
  target = log;
}

/**
 * Runs `bind` with grpc-js's error lines dropped. NB: the one line a failed bind logs says
 * what its error says too, and the server reports that error as COFFER_API_LISTEN_FAILED.
 */
export async function withoutGrpcBindLogging<T>(bind: () => Promise<T>): Promise<T> {
  binding += 1;
  try {
    return await bind();
  } finally {
    binding -= 1;
  }
}
