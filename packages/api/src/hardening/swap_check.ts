/**
 * Unsealed keys and secret values live in the server's memory, and Node cannot lock pages
 * (no mlock). With swap on, the kernel may write them to disk, where they outlive the process.
 * The server warns at start when swap is active; it never refuses, since encrypted swap is a
 * sound setup that cannot be told apart from here.
 */
import { readFileSync } from 'node:fs';

/** Where {@link warnIfSwapOn} reports; ServerLog from @coffer/core fits. */
export interface SwapLog {
  info(event: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(event: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** Reads /proc/swaps; the real source for {@link warnIfSwapOn}. */
export function readProcSwaps(): string {
  return readFileSync('/proc/swaps', 'utf8');
}

/** The active swap areas (files or partitions) listed in a /proc/swaps text. */
export function activeSwapAreas(procSwaps: string): readonly string[] {
  return procSwaps
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name.length > 0);
}

/**
 * Logs `swap_enabled` (warn) when swap is active, `swap_unknown` (info) when /proc/swaps
 * cannot be read. Never throws.
 */
export function warnIfSwapOn(log: SwapLog, readSwaps: () => string = readProcSwaps): void {
  let areas: readonly string[];
  try {
    areas = activeSwapAreas(readSwaps());
  } catch (error) {
    log.info('swap_unknown', { code: (error as NodeJS.ErrnoException).code ?? 'unknown' });
    return;
  }
  if (areas.length > 0) {
    log.warn('swap_enabled', {
      areas,
      advice:
        'Disable swap (swapoff -a) or use encrypted swap: unsealed keys and secrets in memory ' +
        'may be written to disk',
    });
  }
}
