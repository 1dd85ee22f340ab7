/**
 * Assertions for our own invariants (STYLE.md §5.1). A failed assertion is a bug: it throws an
 * AssertionError that nobody catches, so the process stops rather than corrupt the log.
 */

/** Thrown when an invariant of the core does not hold. Never caught. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AssertionError';
  }
}

/** Fails with a bug report when `condition` is false. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new AssertionError(`Raft invariant violated: ${message}`);
  }
}
