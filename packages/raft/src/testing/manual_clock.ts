/**
 * A {@link DriverClock} that moves only when a test says so, so driver tests never sleep.
 */
import type { DriverClock } from '../node.ts';

interface Timer {
  readonly dueMs: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A fake monotonic clock with timers fired by {@link ManualClock.advance}. */
export class ManualClock implements DriverClock {
  #nowMs = 0;
  #timers: Timer[] = [];

  nowMs(): number {
    return this.#nowMs;
  }

  setTimer(delayMs: number, callback: () => void): { cancel(): void } {
    const timer: Timer = { dueMs: this.#nowMs + delayMs, callback, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Moves time forward by ms, firing due timers in order. */
  advance(ms: number): void {
    const target = this.#nowMs + ms;
    for (;;) {
      const due = this.#timers
        .filter((t) => !t.cancelled && t.dueMs <= target)
        .sort((a, b) => a.dueMs - b.dueMs)[0];
      if (due === undefined) {
        break;
      }
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#nowMs = Math.max(this.#nowMs, due.dueMs);
      due.callback();
    }
    this.#nowMs = target;
  }
}
