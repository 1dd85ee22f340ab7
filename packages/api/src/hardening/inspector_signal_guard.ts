/**
 * Node opens the inspector on 127.0.0.1:9229 when the process receives SIGUSR1, unless a
 * SIGUSR1 listener is installed (Node 20 has no flag to turn this off). Anyone who may signal
 * the server (its user, root) could otherwise open a debugger into the heap of a running,
 * unsealed node. The server installs this guard first thing at start.
 *
 * The claim is checked by inspector_signal_guard.test.ts on real processes: without the guard
 * SIGUSR1 makes Node print "Debugger listening" and listen; with it, neither happens.
 */

/** Where the guard reports a SIGUSR1; ServerLog from @coffer/core fits. */
export interface InspectorSignalLog {
  warn(event: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** The process surface the guard uses; `process` fits, tests may pass an EventEmitter. */
export interface SignalTarget {
  on(signal: 'SIGUSR1', listener: () => void): unknown;
  removeListener(signal: 'SIGUSR1', listener: () => void): unknown;
}

/**
 * Installs a SIGUSR1 listener that keeps the inspector closed and logs
 * `inspector_signal_ignored` for each signal. Returns a function that removes it again
 * (tests only: with no listener left, the next SIGUSR1 opens the inspector).
 */
export function installInspectorSignalGuard(
  log: InspectorSignalLog,
  target: SignalTarget = process,
): () => void {
  let count = 0;
  const listener = (): void => {
    count += 1;
    log.warn('inspector_signal_ignored', {
      signal: 'SIGUSR1',
      count,
      advice: 'The inspector stays closed in a Coffer server; to debug, use --dev with --inspect',
    });
  };
  target.on('SIGUSR1', listener);
  return () => {
    target.removeListener('SIGUSR1', listener);
  };
}
