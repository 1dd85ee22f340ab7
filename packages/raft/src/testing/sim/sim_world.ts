/**
 * The simulated world: one event queue on simulated time in microseconds, the clocks of the
 * nodes (each runs at its own rate, within the drift bound the lease relies on) and the trace of
 * what happened.
 *
 * Everything is deterministic: events at the same time run in the order they were scheduled,
 * and every random choice comes from a SeededRandom. No wall clock is read here.
 *
 * Invariant: nowUs never decreases; an event never runs before its time.
 */
import type { Message } from '../../index.ts';
import { SeededRandom } from '../seeded_random.ts';

/** One event in the queue: a closure to run at a simulated time. */
interface ScheduledEvent {
  readonly timeUs: number;
  readonly seq: number;
  readonly run: () => void;
}

function earlier(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.timeUs < b.timeUs || (a.timeUs === b.timeUs && a.seq < b.seq);
}

/** A binary min-heap of events ordered by (time, scheduling order). */
class EventHeap {
  readonly #items: ScheduledEvent[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(event: ScheduledEvent): void {
    const items = this.#items;
    items.push(event);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as ScheduledEvent;
      if (!earlier(event, p)) {
        break;
      }
      items[i] = p;
      i = parent;
    }
    items[i] = event;
  }

  peek(): ScheduledEvent | undefined {
    return this.#items[0];
  }

  pop(): ScheduledEvent | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) {
      return top;
    }
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) {
        break;
      }
      const right = left + 1;
      const l = items[left] as ScheduledEvent;
      const r = items[right];
      const child = r !== undefined && earlier(r, l) ? right : left;
      const c = items[child] as ScheduledEvent;
      if (!earlier(c, last)) {
        break;
      }
      items[i] = c;
      i = child;
    }
    items[i] = last;
    return top;
  }
}

/** How a run of the event loop ended. */
export type RunOutcome = 'done' | 'deadline' | 'idle';

/** The event queue and simulated clock shared by every component of one simulation. */
export class SimWorld {
  /** Simulated time in microseconds. */
  nowUs = 0;
  /** Events run so far. */
  eventsProcessed = 0;
  readonly random: SeededRandom;
  readonly trace: TraceLog;
  readonly #heap = new EventHeap();
  #seq = 0;

  constructor(options: { random: SeededRandom; trace: TraceLog }) {
    this.random = options.random;
    this.trace = options.trace;
  }

  /** Schedules run at an absolute simulated time (never in the past). */
  at(timeUs: number, run: () => void): void {
    this.#heap.push({ timeUs: Math.max(timeUs, this.nowUs), seq: this.#seq++, run });
  }

  /** Schedules run after a delay in microseconds. */
  after(delayUs: number, run: () => void): void {
    this.at(this.nowUs + delayUs, run);
  }

  /**
   * Runs events in order until done() holds (checked after every event), the next event lies
   * past deadlineUs (time then stops at the deadline), or the queue is empty.
   */
  runUntil(done: () => boolean, deadlineUs: number): RunOutcome {
    while (!done()) {
      const next = this.#heap.peek();
      if (next === undefined) {
        return 'idle';
      }
      if (next.timeUs > deadlineUs) {
        this.nowUs = deadlineUs;
        return 'deadline';
      }
      this.#heap.pop();
      this.nowUs = next.timeUs;
      this.eventsProcessed++;
      next.run();
    }
    return 'done';
  }
}

/**
 * The clock of one node incarnation. Its ticks come every periodUs of simulated time, where
 * periodUs is the configured tick interval divided by the node's clock rate; whole microseconds
 * keep the arithmetic exact.
 */
export class NodeClock {
  readonly periodUs: number;
  readonly #originUs: number;
  /** Ticks handed to the node so far. */
  ticksDelivered = 0;

  constructor(options: { originUs: number; periodUs: number }) {
    this.#originUs = options.originUs;
    this.periodUs = options.periodUs;
  }

  /** Ticks that have come due by nowUs according to this node's clock. */
  dueTicks(nowUs: number): number {
    return Math.floor((nowUs - this.#originUs) / this.periodUs);
  }

  /** The simulated time of the next tick not yet delivered. */
  nextTickTimeUs(): number {
    return this.#originUs + (this.ticksDelivered + 1) * this.periodUs;
  }
}

/** Kinds of trace record: a message handed to a node, a message lost, or a note. */
export type TraceKind = 'deliver' | 'drop' | 'note';

/** One line of the trace, formatted only when someone reads it. */
export interface TraceRecord {
  readonly timeUs: number;
  readonly kind: TraceKind;
  readonly message: Message | undefined;
  readonly text: string;
}

/** Formats a simulated time as seconds with microsecond digits. */
export function formatTimeUs(timeUs: number): string {
  const seconds = Math.floor(timeUs / 1_000_000);
  const micros = String(timeUs % 1_000_000).padStart(6, '0');
  return `${String(seconds).padStart(4)}.${micros}s`;
}

/** Renders a peer message in one short line. */
export function formatMessage(m: Message): string {
  let text = `${m.type} ${m.from}->${m.to} t${m.term}`;
  if (m.type === 'heartbeat' || m.type === 'heartbeatResponse') {
    text += ` tick${m.index}`;
  } else if (m.index !== 0 || m.logTerm !== 0) {
    text += m.reject ? ` i${m.index}` : ` i${m.index}/t${m.logTerm}`;
  }
  if (m.commit !== 0) {
    text += ` c${m.commit}`;
  }
  if (m.entries.length > 0) {
    const last = m.entries[m.entries.length - 1];
    text += ` +${m.entries.length}(..${last?.index ?? 0}/t${last?.term ?? 0})`;
  }
  if (m.reject) {
    text += m.type === 'appendResponse' ? ` reject(hint ${m.rejectHint}/t${m.logTerm})` : ' reject';
  }
  if (m.context.byteLength > 0) {
    text += ' ctx';
  }
  if (m.snapshot !== undefined) {
    const s = m.snapshot;
    text += ` snap@${s.metadata.index}/t${s.metadata.term} off${s.offsetBytes}+${s.data.byteLength}${s.done ? ' done' : ''}`;
  }
  if (m.leaderTransfer) {
    text += ' transfer';
  }
  return text;
}

/** Renders one trace record. */
export function formatTraceRecord(record: TraceRecord): string {
  const time = formatTimeUs(record.timeUs);
  if (record.message === undefined) {
    return `[${time}] ${record.text}`;
  }
  const verb = record.kind === 'drop' ? 'lost' : 'recv';
  const suffix = record.text === '' ? '' : ` (${record.text})`;
  return `[${time}] n${record.message.to} ${verb} ${formatMessage(record.message)}${suffix}`;
}

function mix32(h: number, value: number): number {
  return Math.imul(h ^ (value | 0), 0x01000193) >>> 0;
}

function hashText(h: number, text: string): number {
  let x = h;
  for (let i = 0; i < text.length; i++) {
    x = Math.imul(x ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return x;
}

/**
 * The trace of a run: the last tailSize records in a ring, a running 32-bit digest of every
 * record, and (when keepAll is set, for the determinism test) every record.
 */
export class TraceLog {
  /** FNV-style digest of every record so far; equal runs give equal digests. */
  digest = 0x811c9dc5;
  readonly #ring: (TraceRecord | undefined)[];
  readonly #all: TraceRecord[] | undefined;
  #count = 0;

  constructor(options: { tailSize: number; keepAll: boolean }) {
    this.#ring = new Array<TraceRecord | undefined>(Math.max(1, options.tailSize)).fill(undefined);
    this.#all = options.keepAll ? [] : undefined;
  }

  /** Appends a record. */
  add(record: TraceRecord): void {
    this.#ring[this.#count % this.#ring.length] = record;
    this.#count++;
    this.#all?.push(record);
    let h = mix32(this.digest, record.timeUs % 0x7fffffff);
    h = mix32(h, Math.floor(record.timeUs / 0x7fffffff));
    const m = record.message;
    if (m !== undefined) {
      h = hashText(h, m.type);
      h = mix32(h, m.from * 256 + m.to);
      h = mix32(h, m.term);
      h = mix32(h, m.index);
      h = mix32(h, m.commit + (m.reject ? 0x40000000 : 0));
      h = mix32(h, m.entries.length);
    }
    this.digest = hashText(h, record.text);
  }

  /** Appends a note at the given time. */
  note(timeUs: number, text: string): void {
    this.add({ timeUs, kind: 'note', message: undefined, text });
  }

  /** Records seen so far. */
  get count(): number {
    return this.#count;
  }

  /** The last records, oldest first, formatted. */
  tail(): string[] {
    const size = this.#ring.length;
    const lines: string[] = [];
    const first = Math.max(0, this.#count - size);
    for (let i = first; i < this.#count; i++) {
      const record = this.#ring[i % size];
      if (record !== undefined) {
        lines.push(formatTraceRecord(record));
      }
    }
    return lines;
  }

  /** Every record, formatted, or undefined when the log was not asked to keep them. */
  all(): string[] | undefined {
    return this.#all?.map(formatTraceRecord);
  }
}
