/**
 * The real {@link DriverClock}: the monotonic performance clock (never the wall clock, which
 * jumps) and Node's timers.
 */
import type { DriverClock } from './ports.ts';

/** A DriverClock on the process's monotonic clock. */
export const systemClock: DriverClock = {
  nowMs: () => performance.now(),
  setTimer: (delayMs, callback) => {
    const handle = setTimeout(callback, delayMs);
    return {
      cancel: () => {
        clearTimeout(handle);
      },
    };
  },
};
