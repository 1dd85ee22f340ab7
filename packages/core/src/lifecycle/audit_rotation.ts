/**
 * Log rotation for audit files: on SIGHUP (what logrotate's `postrotate` sends), the node
 * reopens every audit file at its configured path, so lines go to the new file and the hash
 * chain continues into it (the new file's first line names the last line of the old one).
 * The server installs this once at startup; it returns the uninstaller.
 */
import type { ServerLog } from '../logging/server_log.ts';

/** What reopening needs of a node. */
export interface AuditReopener {
  reopenAuditFiles(): Promise<void>;
}

/** Reopens the node's audit files on `signal` (default SIGHUP); returns the uninstaller. */
export function reopenAuditFilesOnSignal(
  node: AuditReopener,
  options: {
    readonly log?: ServerLog;
    readonly signal?: NodeJS.Signals;
    readonly target?: Pick<NodeJS.Process, 'on' | 'off'>;
  } = {},
): () => void {
  const signal = options.signal ?? 'SIGHUP';
  const target = options.target ?? process;
  const reopen = (): void => {
    node.reopenAuditFiles().then(
      () => options.log?.info('audit_files_reopened', { signal }),
      (error: unknown) =>
        options.log?.error('audit_files_reopen_failed', {
          signal,
          error: error instanceof Error ? error.name : typeof error,
        }),
    );
  };
  target.on(signal, reopen);
  return () => {
    target.off(signal, reopen);
  };
}
