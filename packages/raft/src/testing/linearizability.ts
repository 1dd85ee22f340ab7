/**
 * Linearizability checker for recorded client histories.
 *
 * The search is Wing & Gong's backtracking algorithm with Lowe's memo cache, split per
 * partition (P-compositionality, Horn & Kroening 2015), the algorithm Porcupine implements:
 *
 * 1. Each operation becomes a call entry and a return entry, sorted by time (calls before returns
 *    at equal times, so operations that touch at an instant count as concurrent), and chained in
 *    a doubly linked list behind a head sentinel.
 * 2. Walking the list from the head, the search tries to linearize each call it meets before the
 *    first return: if the model accepts the call's output from the current state, the call and its
 *    return are lifted out of the list, a frame is pushed on the backtracking stack, and the walk
 *    restarts at the head.
 * 3. Reaching a return entry means its call can no longer be linearized here: the search pops the
 *    last frame, restores the state, puts that call and its return back (unlift) and tries the next
 *    call after it. An empty stack at that point proves the partition is not linearizable.
 * 4. Before pushing, the pair (set of linearized operations, model state) is looked up in a cache
 *    keyed by a hash of both. A pair seen before has already been explored to a dead end (the set
 *    only grows along one path, so it cannot be on the current one), and the search skips it.
 *    This cache is what makes the search practical.
 *
 * The search is exponential in the worst case (the problem is NP-complete), so each partition has
 * a deterministic budget of search steps and an optional wall-clock limit. A partition that runs
 * out of either yields the verdict 'unknown', which callers must treat as a failure.
 *
 * @module
 */

/**
 * One client operation in a recorded history: what the client asked, when it asked, what it was
 * told, and when it was told.
 *
 * An operation whose outcome is unknown (the client timed out, crashed or lost its connection, so
 * the operation may or may not have taken effect, now or at any later time) is recorded with
 * `returnTime` set to `Number.POSITIVE_INFINITY` (or any time after every other event) and an
 * output that the model treats as matching any result, such as the KV model's `{ unknown: true }`.
 * The infinite return time lets the checker linearize it anywhere after its call, including after
 * every other operation, which is the same as it never having happened.
 *
 * NB: an unknown output with a finite `returnTime` means "it took effect before returnTime, with
 * an unknown result", which is a stronger claim than a timeout supports.
 */
export interface Operation<Input, Output> {
  /** The client that issued the operation; a client has at most one operation in flight. */
  readonly clientId: number;
  /** What the client asked for. */
  readonly input: Input;
  /** When the client sent the request; any finite number on a clock shared by all clients. */
  readonly callTime: number;
  /** What the client was told, or the model's "unknown" output. */
  readonly output: Output;
  /** When the client got the response; at least `callTime`, and +Infinity if it never did. */
  readonly returnTime: number;
}

/**
 * A sequential specification of the system under test, used by the checker to replay candidate
 * linearizations.
 */
export interface Model<State, Input, Output> {
  /** Returns the state before any operation. */
  init(): State;
  /**
   * Applies `input` to `state` and reports whether `output` is a result the object could have
   * returned from `state`, together with the state after the operation. It must not mutate
   * `state`. An output the model calls "unknown" should be accepted from every state.
   */
  step(state: State, input: Input, output: Output): { ok: boolean; state: State };
  /** Tells whether two states are the same; the cache uses it to confirm hash matches. */
  equal(a: State, b: State): boolean;
  /** Returns a hash of `state` for the cache; equal states must hash alike. */
  hash(state: State): string;
  /**
   * Splits a history into independent sub-histories (for example one per key) that are checked
   * separately. Every operation must land in exactly one partition. Without it the history is one
   * partition.
   */
  partition?(history: readonly Operation<Input, Output>[]): Operation<Input, Output>[][];
  /** Renders one operation for humans, as in `get("x") -> "1"`. */
  describeOperation?(input: Input, output: Output): string;
}

/** Limits for one call to {@link checkOperations}; each applies to every partition separately. */
export interface CheckOptions {
  /**
   * The most search steps (list entries visited) one partition may take before the checker gives
   * up with verdict 'unknown'. Deterministic, so it is the limit tests should rely on.
   */
  readonly stepsMaxPerPartition: number;
  /** The most milliseconds, as measured by `now`, one partition may search; unlimited if absent. */
  readonly timeLimitMsPerPartition?: number;
  /**
   * The clock for `timeLimitMsPerPartition`, in milliseconds; `Date.now` if absent. Tests should
   * inject a fake one.
   */
  readonly now?: () => number;
}

/** The verdict for a history in which every partition has a linearization. */
export interface CheckOk {
  /** Every partition is linearizable. */
  readonly verdict: 'ok';
}

/** The verdict for a history with a partition that has no linearization. */
export interface CheckIllegal<Input, Output> {
  /** Some partition is not linearizable. */
  readonly verdict: 'illegal';
  /** Index, in the model's partition order, of the first partition that is not linearizable. */
  readonly partitionIndex: number;
  /** The longest sequence of that partition's operations the search managed to linearize. */
  readonly longestLinearizedPrefix: readonly Operation<Input, Output>[];
  /** Every operation of that partition, in history order. */
  readonly operations: readonly Operation<Input, Output>[];
}

/**
 * The verdict for a history whose search ran out of budget before deciding. Callers must treat it
 * as a failure: a history that could not be checked is not a history that passed.
 */
export interface CheckUnknown {
  /** The search gave up. */
  readonly verdict: 'unknown';
  /** Index of the first partition whose search gave up. */
  readonly partitionIndex: number;
  /** Which limit ran out: `stepsMaxPerPartition` or `timeLimitMsPerPartition`. */
  readonly reason: 'steps' | 'time';
}

/**
 * The result of {@link checkOperations}. 'illegal' wins over 'unknown' when partitions disagree,
 * because it is a definite answer.
 */
export type CheckResult<Input, Output> = CheckOk | CheckIllegal<Input, Output> | CheckUnknown;

/** An entry of the call/return list, or its head sentinel (opIndex -1). */
interface ListEntry {
  /** Index of the operation in its partition; -1 for the head. */
  readonly opIndex: number;
  /** For a call, its return entry; undefined for a return entry and the head. */
  readonly match: ListEntry | undefined;
  prev: ListEntry | undefined;
  next: ListEntry | undefined;
}

/** A set of operation indices over a Uint32Array, with a hash kept up to date on every change. */
class Bitset {
  readonly words: Uint32Array;
  /** XOR of mixIndex(i) over the members, so set and clear are O(1). */
  hash = 0;

  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  set(index: number): void {
    const word = index >>> 5;
    this.words[word] = (this.words[word] ?? 0) | (1 << (index & 31));
    this.hash ^= mixIndex(index);
  }

  clear(index: number): void {
    const word = index >>> 5;
    this.words[word] = (this.words[word] ?? 0) & ~(1 << (index & 31));
    this.hash ^= mixIndex(index);
  }
}

/**
 * Copies of bitsets of one width, packed in one growing Uint32Array, so caching a set copies its
 * words without allocating an object per entry. Measured faster than one Uint32Array or one
 * bigint per cache entry on dense partitions (1 to 2 keys, 8 clients).
 */
class BitsetArena {
  readonly #width: number;
  #words: Uint32Array;
  #usedWords = 0;

  constructor(width: number) {
    this.#width = width;
    this.#words = new Uint32Array(Math.max(width, 1) * 16);
  }

  /** Stores a copy of `bitset` and returns its offset. */
  store(bitset: Bitset): number {
    if (this.#usedWords + this.#width > this.#words.length) {
      const grown = new Uint32Array(this.#words.length * 2);
      grown.set(this.#words);
      this.#words = grown;
    }
    const offset = this.#usedWords;
    this.#words.set(bitset.words, offset);
    this.#usedWords += this.#width;
    return offset;
  }

  /** Tells whether the copy at `offset` has the same members as `bitset`. */
  equals(offset: number, bitset: Bitset): boolean {
    for (let i = 0; i < this.#width; i += 1) {
      if (this.#words[offset + i] !== bitset.words[i]) {
        return false;
      }
    }
    return true;
  }
}

/** Scatters an index over 32 bits (murmur3's finalizer), so XOR of members makes a good hash. */
function mixIndex(index: number): number {
  let h = (index + 0x9e3779b9) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hashes a string to 32 bits (FNV-1a), so cache keys are numbers rather than new strings. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

/** Builds the time-ordered call/return list of a partition and returns its head sentinel. */
function buildEntryList(operations: readonly Operation<unknown, unknown>[]): ListEntry {
  interface Event {
    readonly time: number;
    readonly isCall: boolean;
    readonly opIndex: number;
  }
  const events: Event[] = [];
  operations.forEach((op, opIndex) => {
    events.push({ time: op.callTime, isCall: true, opIndex });
    events.push({ time: op.returnTime, isCall: false, opIndex });
  });
  events.sort((a, b) => {
    if (a.time !== b.time) {
      return a.time < b.time ? -1 : 1;
    }
    if (a.isCall !== b.isCall) {
      return a.isCall ? -1 : 1;
    }
    return a.opIndex - b.opIndex;
  });
  const returns: ListEntry[] = operations.map((_, opIndex) => ({
    opIndex,
    match: undefined,
    prev: undefined,
    next: undefined,
  }));
  const head: ListEntry = { opIndex: -1, match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const event of events) {
    const returnEntry = returns[event.opIndex];
    assert(returnEntry !== undefined, 'event refers to a missing operation');
    const entry: ListEntry = event.isCall
      ? { opIndex: event.opIndex, match: returnEntry, prev: last, next: undefined }
      : returnEntry;
    entry.prev = last;
    last.next = entry;
    last = entry;
  }
  return head;
}

/** Removes a call entry and its return entry from the list. */
function lift(call: ListEntry): void {
  const ret = call.match;
  assert(ret !== undefined && call.prev !== undefined, 'lift needs a linked call entry');
  call.prev.next = call.next;
  if (call.next !== undefined) {
    call.next.prev = call.prev;
  }
  assert(ret.prev !== undefined, 'a return entry always has a predecessor');
  ret.prev.next = ret.next;
  if (ret.next !== undefined) {
    ret.next.prev = ret.prev;
  }
}

/** Puts back a call entry and its return entry removed by lift(), in reverse order. */
function unlift(call: ListEntry): void {
  const ret = call.match;
  assert(ret !== undefined && call.prev !== undefined, 'unlift needs a lifted call entry');
  assert(ret.prev !== undefined, 'a lifted return entry keeps its predecessor');
  ret.prev.next = ret;
  if (ret.next !== undefined) {
    ret.next.prev = ret;
  }
  call.prev.next = call;
  if (call.next !== undefined) {
    call.next.prev = call;
  }
}

/** What the search of one partition found. */
type PartitionOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'illegal'; readonly longestOpIndices: readonly number[] }
  | { readonly kind: 'unknown'; readonly reason: 'steps' | 'time' };

/** A linearized call on the backtracking stack, with the state from before it. */
interface Frame<State> {
  readonly call: ListEntry;
  readonly stateBefore: State;
}

/** A cached (linearized set, state) pair; seeing it again means the branch is already covered. */
interface CacheEntry<State> {
  /** Where the linearized set is stored in the search's BitsetArena. */
  readonly linearizedOffset: number;
  readonly state: State;
}

/** Search steps between two reads of the clock, so a time limit costs little. */
const clockReadIntervalSteps = 256;

/** The Wing & Gong search with Lowe's cache over one partition. */
class PartitionSearch<State, Input, Output> {
  readonly #model: Model<State, Input, Output>;
  readonly #operations: readonly Operation<Input, Output>[];
  readonly #options: CheckOptions;
  readonly #head: ListEntry;
  readonly #linearized: Bitset;
  readonly #cache = new Map<number, CacheEntry<State>[]>();
  readonly #arena: BitsetArena;
  readonly #frames: Frame<State>[] = [];
  #state: State;
  #longestOpIndices: readonly number[] = [];

  constructor(
    model: Model<State, Input, Output>,
    operations: readonly Operation<Input, Output>[],
    options: CheckOptions,
  ) {
    this.#model = model;
    this.#operations = operations;
    this.#options = options;
    this.#head = buildEntryList(operations);
    this.#linearized = new Bitset(operations.length);
    this.#arena = new BitsetArena(this.#linearized.words.length);
    this.#state = model.init();
  }

  run(): PartitionOutcome {
    const now = this.#options.now ?? (() => Date.now());
    const timeStartMs = now();
    let steps = 0;
    let entry = this.#head.next;
    // Invariant: entry is undefined only when every operation has been lifted out of the list.
    while (entry !== undefined) {
      steps += 1;
      if (steps > this.#options.stepsMaxPerPartition) {
        return { kind: 'unknown', reason: 'steps' };
      }
      const timeLimitMs = this.#options.timeLimitMsPerPartition;
      if (timeLimitMs !== undefined && steps % clockReadIntervalSteps === 0) {
        if (now() - timeStartMs > timeLimitMs) {
          return { kind: 'unknown', reason: 'time' };
        }
      }
      if (entry.match !== undefined) {
        entry = this.#tryLinearize(entry) ? this.#head.next : entry.next;
      } else {
        const resumed = this.#backtrack();
        if (resumed === undefined) {
          return { kind: 'illegal', longestOpIndices: this.#longestOpIndices };
        }
        entry = resumed.next;
      }
    }
    return { kind: 'ok' };
  }

  /** Linearizes `call` next if the model accepts it and the result is new; tells if it did. */
  #tryLinearize(call: ListEntry): boolean {
    const op = this.#operations[call.opIndex];
    assert(op !== undefined, 'a call entry refers to a missing operation');
    const result = this.#model.step(this.#state, op.input, op.output);
    if (!result.ok) {
      return false;
    }
    this.#linearized.set(call.opIndex);
    if (!this.#cacheAdd(result.state)) {
      this.#linearized.clear(call.opIndex);
      return false;
    }
    this.#frames.push({ call, stateBefore: this.#state });
    this.#state = result.state;
    lift(call);
    return true;
  }

  /** Adds (current linearized set, state) to the cache; false if it was already there. */
  #cacheAdd(state: State): boolean {
    const key = (this.#linearized.hash ^ hashString(this.#model.hash(state))) >>> 0;
    let bucket = this.#cache.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.#cache.set(key, bucket);
    }
    for (const cached of bucket) {
      if (
        this.#arena.equals(cached.linearizedOffset, this.#linearized) &&
        this.#model.equal(cached.state, state)
      ) {
        return false;
      }
    }
    bucket.push({ linearizedOffset: this.#arena.store(this.#linearized), state });
    return true;
  }

  /** Undoes the last linearized call and returns it, or undefined when nothing is left to undo. */
  #backtrack(): ListEntry | undefined {
    // Frames only shrink here, so the stack is at a local maximum: record it if it is the longest.
    if (this.#frames.length > this.#longestOpIndices.length) {
      this.#longestOpIndices = this.#frames.map((frame) => frame.call.opIndex);
    }
    const frame = this.#frames.pop();
    if (frame === undefined) {
      return undefined;
    }
    this.#state = frame.stateBefore;
    this.#linearized.clear(frame.call.opIndex);
    unlift(frame.call);
    return frame.call;
  }
}

/**
 * Checks whether a history of operations is linearizable with respect to `model`, one partition at
 * a time. Operations with unknown outcomes are supported as described on {@link Operation}.
 *
 * A verdict of 'unknown' means a partition exceeded `stepsMaxPerPartition` or
 * `timeLimitMsPerPartition`; callers must treat it as a failure, never as a pass.
 * Throws a RangeError when the history or the options are malformed.
 */
export function checkOperations<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  options: CheckOptions,
): CheckResult<Input, Output> {
  validateOptions(options);
  validateHistory(history);
  const partitions: readonly (readonly Operation<Input, Output>[])[] = model.partition?.(
    history,
  ) ?? [history];
  const partitionedCount = partitions.reduce((sum, partition) => sum + partition.length, 0);
  if (partitionedCount !== history.length) {
    throw new RangeError(
      `Cannot check history: partitions hold ${String(partitionedCount)} operations ` +
        `but the history has ${String(history.length)}`,
    );
  }
  let firstUnknown: CheckUnknown | undefined;
  for (const [partitionIndex, operations] of partitions.entries()) {
    const outcome = new PartitionSearch(model, operations, options).run();
    if (outcome.kind === 'illegal') {
      const longestLinearizedPrefix = outcome.longestOpIndices.map((opIndex) => {
        const op = operations[opIndex];
        assert(op !== undefined, 'the longest prefix refers to a missing operation');
        return op;
      });
      return { verdict: 'illegal', partitionIndex, longestLinearizedPrefix, operations };
    }
    if (outcome.kind === 'unknown' && firstUnknown === undefined) {
      firstUnknown = { verdict: 'unknown', partitionIndex, reason: outcome.reason };
    }
  }
  return firstUnknown ?? { verdict: 'ok' };
}

function validateOptions(options: CheckOptions): void {
  const { stepsMaxPerPartition, timeLimitMsPerPartition } = options;
  if (!Number.isSafeInteger(stepsMaxPerPartition) || stepsMaxPerPartition < 1) {
    throw new RangeError(
      `Cannot check history: stepsMaxPerPartition "${String(stepsMaxPerPartition)}" ` +
        'is not a positive integer',
    );
  }
  if (timeLimitMsPerPartition !== undefined && !(timeLimitMsPerPartition >= 0)) {
    throw new RangeError(
      `Cannot check history: timeLimitMsPerPartition "${String(timeLimitMsPerPartition)}" ` +
        'is not a non-negative number',
    );
  }
}

function validateHistory(history: readonly Operation<unknown, unknown>[]): void {
  history.forEach((op, index) => {
    if (!Number.isFinite(op.callTime)) {
      throw new RangeError(
        `Cannot check operation ${String(index)}: callTime "${String(op.callTime)}" is not finite`,
      );
    }
    if (Number.isNaN(op.returnTime) || op.returnTime < op.callTime) {
      throw new RangeError(
        `Cannot check operation ${String(index)}: returnTime "${String(op.returnTime)}" ` +
          `is before callTime "${String(op.callTime)}"`,
      );
    }
  });
}

/**
 * Renders a check result for a test failure message: for an illegal history, the partition's
 * operations sorted by call time, the longest linearizable prefix (numbered in linearization
 * order) and the operation that could not be linearized after it.
 */
export function describeResult<State, Input, Output>(
  model: Model<State, Input, Output>,
  result: CheckResult<Input, Output>,
): string {
  switch (result.verdict) {
    case 'ok':
      return 'History is linearizable';
    case 'unknown': {
      const limit = result.reason === 'steps' ? 'stepsMaxPerPartition' : 'timeLimitMsPerPartition';
      return (
        `Linearizability of partition ${String(result.partitionIndex)} is unknown: ` +
        `the search exceeded ${limit}. Treat this as a failure`
      );
    }
    case 'illegal':
      return describeIllegal(model, result);
  }
}

function describeIllegal<State, Input, Output>(
  model: Model<State, Input, Output>,
  result: CheckIllegal<Input, Output>,
): string {
  const { operations, longestLinearizedPrefix } = result;
  const positions = new Map<Operation<Input, Output>, number>();
  longestLinearizedPrefix.forEach((op, index) => positions.set(op, index + 1));
  const stuck = findStuckOperation(operations, positions);
  const describe = (op: Operation<Input, Output>): string =>
    `client ${String(op.clientId)} [${formatTime(op.callTime)}, ${formatTime(op.returnTime)}] ` +
    (model.describeOperation?.(op.input, op.output) ??
      `${JSON.stringify(op.input)} -> ${JSON.stringify(op.output)}`);
  const lines = [
    `History is not linearizable: partition ${String(result.partitionIndex)} ` +
      `(${String(operations.length)} operations) has no valid order`,
    `Longest linearizable prefix: ${String(longestLinearizedPrefix.length)} of ` +
      `${String(operations.length)} operations, numbered #1.. in linearization order below`,
  ];
  if (stuck !== undefined) {
    lines.push(
      `Could not linearize: ${describe(stuck)}; no order of the remaining operations lets it ` +
        'take effect before it returned',
    );
  }
  lines.push('Operations by call time (-> marks the one that could not be linearized):');
  const byCallTime = [...operations].sort((a, b) => a.callTime - b.callTime);
  for (const op of byCallTime) {
    const position = positions.get(op);
    const mark = op === stuck ? '->' : '  ';
    const label = position === undefined ? '-' : `#${String(position)}`;
    lines.push(`${mark} ${label.padStart(5)}  ${describe(op)}`);
  }
  return lines.join('\n');
}

/**
 * Finds the operation that blocked the longest prefix: of the operations outside it, the one that
 * returned first, since it had to take effect before anything called after its return.
 */
function findStuckOperation<Input, Output>(
  operations: readonly Operation<Input, Output>[],
  prefixPositions: ReadonlyMap<Operation<Input, Output>, number>,
): Operation<Input, Output> | undefined {
  let stuck: Operation<Input, Output> | undefined;
  for (const op of operations) {
    if (prefixPositions.has(op)) {
      continue;
    }
    if (
      stuck === undefined ||
      op.returnTime < stuck.returnTime ||
      (op.returnTime === stuck.returnTime && op.callTime < stuck.callTime)
    ) {
      stuck = op;
    }
  }
  return stuck;
}

function formatTime(time: number): string {
  return Number.isFinite(time) ? String(time) : 'inf';
}

/** Fails loudly on a broken invariant of this module: a bug, never an outcome to handle. */
function assert(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new Error(`Assertion failed: ${message}`);
  }
}
