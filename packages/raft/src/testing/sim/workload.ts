/**
 * The clients of the simulation and the history they record for the linearizability checker.
 *
 * Each client runs one operation at a time (get, put or compare-and-set on one key), on keys
 * chosen so that at most {@link clientsPerKeyMax} clients work on a key at once. A request goes to
 * the node the client believes leads; a NotLeader answer moves it to the hinted leader; a lost
 * answer times out and the client retries elsewhere. A write keeps its session seq across
 * retries, so the state machine applies it once however many copies commit; a read retries with
 * a fresh ReadIndex. The operation spans from the first send to the answer that completes it.
 *
 * Unknown outcomes: a write the client gives up on (some seeds give up after a number of
 * attempts) or that is still pending at the end is recorded with output unknown and return time
 * +Infinity: it may take effect at any time after its call, or never. A read without an answer
 * constrains nothing and is left out.
 */
import { noNode, type NodeId } from '../../index.ts';
import { kvUnknownOutput, type KvInput, type KvOperation, type KvOutput } from '../kv_model.ts';
import type { SeededRandom } from '../seeded_random.ts';
import type { KvRequest, KvResponse } from './kv_state_machine.ts';
import { clientIdBase, type SimNetwork } from './sim_network.ts';
import type { SimWorld } from './sim_world.ts';

/** At most this many clients have an operation in flight on one key. */
export const clientsPerKeyMax = 8;

/** How the clients of one seed behave. */
export interface WorkloadParams {
  readonly clientCount: number;
  readonly keyCount: number;
  /** Share of operations that are reads; the rest are half puts, half compare-and-sets. */
  readonly readFraction: number;
  /** Operations answered before the clients stop starting new ones. */
  readonly opsTarget: number;
  /** A request without an answer for this long is sent again. */
  readonly requestTimeoutUs: number;
  /** Pause between one operation's end and the next one's start, at most. */
  readonly thinkTimeMaxUs: number;
  /** A write is abandoned (recorded as unknown) after this many attempts; Infinity: never. */
  readonly abandonAfterAttempts: number;
  /**
   * Writes abandoned at most in a run, and per key; later ones retry until answered. Each
   * unknown write may take effect at any later time, or never, and the linearizability search
   * pays for every placement it must try: a dozen on one key can exhaust its budget.
   */
  readonly abandonedMax: number;
  readonly abandonedPerKeyMax: number;
}

/** What the clients need from the simulation. */
export interface WorkloadRuntime {
  readonly world: SimWorld;
  readonly network: SimNetwork;
  readonly random: SeededRandom;
  /** Nodes a client may try; it learns the leader from hints. */
  nodeIds(): readonly NodeId[];
  /** Hands a request that arrived over the network to a node. */
  deliverRequest(to: NodeId, request: KvRequest): void;
  /** Harness only: the highest index committed anywhere now (see KvRequest). */
  committedIndex(): number;
}

interface ClientOp {
  readonly opId: number;
  readonly input: KvInput;
  readonly seq: number;
  readonly callTimeUs: number;
  attempt: number;
}

interface Client {
  readonly id: number;
  seq: number;
  leaderGuess: NodeId;
  op: ClientOp | undefined;
  /** The last value this client saw per key, used as a compare-and-set's expectation. */
  readonly lastSeen: Map<string, string | undefined>;
}

function describeInput(input: KvInput): string {
  switch (input.kind) {
    case 'get':
      return `get(${input.key})`;
    case 'put':
      return `put(${input.key}, ${input.value})`;
    case 'cas':
      return `cas(${input.key}, ${input.expected ?? 'absent'} => ${input.value})`;
  }
}

function describeOutput(output: KvOutput): string {
  if ('unknown' in output) {
    return 'unknown';
  }
  if ('value' in output) {
    return `value ${output.value ?? 'absent'}`;
  }
  if ('ok' in output) {
    return `ok ${String(output.ok)}`;
  }
  return 'ok';
}

/** The clients of one run and their recorded history. */
export class Workload {
  /** Operations started so far. */
  issued = 0;
  /** Operations answered so far. */
  completed = 0;
  /** Writes given up and recorded as unknown. */
  abandoned = 0;
  /** Requests sent again after a timeout or a refusal. */
  retries = 0;
  readonly #runtime: WorkloadRuntime;
  readonly #params: WorkloadParams;
  readonly #clients: Client[] = [];
  readonly #activePerKey = new Map<string, number>();
  readonly #abandonedPerKey = new Map<string, number>();
  readonly #history: KvOperation[] = [];
  #issuing = true;
  #nextOpId = 1;

  constructor(options: { runtime: WorkloadRuntime; params: WorkloadParams }) {
    this.#runtime = options.runtime;
    this.#params = options.params;
    for (let i = 0; i < options.params.clientCount; i++) {
      this.#clients.push({
        id: clientIdBase + i,
        seq: 0,
        leaderGuess: noNode,
        op: undefined,
        lastSeen: new Map(),
      });
    }
  }

  /** Starts every client after a random delay. */
  start(): void {
    for (const client of this.#clients) {
      this.#runtime.world.after(this.#runtime.random.int(this.#params.thinkTimeMaxUs + 1), () => {
        this.#issue(client);
      });
    }
  }

  /** Stops starting new operations; those in flight go on until answered. */
  stopIssuing(): void {
    this.#issuing = false;
  }

  /** Whether the clients have completed as many operations as they were asked to. */
  doneIssuing(): boolean {
    return this.completed >= this.#params.opsTarget;
  }

  /** Operations in flight. */
  pendingCount(): number {
    return this.#clients.filter((c) => c.op !== undefined).length;
  }

  /** The history so far; writes still in flight are included as unknown. */
  history(): KvOperation[] {
    const pending: KvOperation[] = [];
    for (const client of this.#clients) {
      const op = client.op;
      if (op !== undefined && op.input.kind !== 'get') {
        pending.push(this.#unknown(client.id, op));
      }
    }
    return [...this.#history, ...pending];
  }

  #unknown(clientId: number, op: ClientOp): KvOperation {
    return {
      clientId,
      input: op.input,
      callTime: op.callTimeUs,
      output: kvUnknownOutput,
      returnTime: Number.POSITIVE_INFINITY,
    };
  }

  #pickKey(): string {
    const random = this.#runtime.random;
    const count = this.#params.keyCount;
    const start = random.int(count);
    for (let i = 0; i < count; i++) {
      const key = `k${(start + i) % count}`;
      if ((this.#activePerKey.get(key) ?? 0) < clientsPerKeyMax) {
        return key;
      }
    }
    throw new Error('Every key has the maximum number of clients: add keys');
  }

  #makeInput(client: Client, key: string): KvInput {
    const roll = this.#runtime.random.float();
    const reads = this.#params.readFraction;
    if (roll < reads) {
      return { kind: 'get', key };
    }
    const value = `${client.id - clientIdBase}.${client.seq + 1}`;
    if (roll < reads + (1 - reads) / 2) {
      return { kind: 'put', key, value };
    }
    return { kind: 'cas', key, expected: client.lastSeen.get(key), value };
  }

  #issue(client: Client): void {
    if (!this.#issuing || this.doneIssuing() || client.op !== undefined) {
      return;
    }
    const key = this.#pickKey();
    const input = this.#makeInput(client, key);
    if (input.kind !== 'get') {
      client.seq++;
    }
    client.op = {
      opId: this.#nextOpId++,
      input,
      seq: input.kind === 'get' ? 0 : client.seq,
      callTimeUs: this.#runtime.world.nowUs,
      attempt: 0,
    };
    this.issued++;
    this.#activePerKey.set(key, (this.#activePerKey.get(key) ?? 0) + 1);
    this.#send(client);
  }

  #send(client: Client): void {
    const op = client.op;
    if (op === undefined) {
      return;
    }
    op.attempt++;
    const runtime = this.#runtime;
    const request: KvRequest = {
      clientId: client.id,
      opId: op.opId,
      attempt: op.attempt,
      seq: op.seq,
      input: op.input,
      committedAtSend: runtime.committedIndex(),
    };
    if (client.leaderGuess === noNode) {
      client.leaderGuess = runtime.random.pick(runtime.nodeIds());
    }
    const to = client.leaderGuess;
    runtime.world.trace.note(
      runtime.world.nowUs,
      `c${client.id} -> n${to} op${op.opId} ${describeInput(op.input)} attempt ${op.attempt}`,
    );
    runtime.network.transmit(client.id, to, () => {
      runtime.deliverRequest(to, request);
    });
    const attempt = op.attempt;
    // Exponential backoff: a client that retries at a fixed pace outruns a slow cluster with
    // copies of its write, and the log grows faster than it commits (congestion collapse).
    const timeoutUs =
      this.#params.requestTimeoutUs * Math.min(2 ** Math.floor((attempt - 1) / 2), 16);
    runtime.world.after(timeoutUs, () => {
      if (client.op === op && op.attempt === attempt) {
        this.#onTimeout(client);
      }
    });
  }

  #otherNode(avoid: NodeId): NodeId {
    const ids = this.#runtime.nodeIds();
    const others = ids.filter((id) => id !== avoid);
    return this.#runtime.random.pick(others.length > 0 ? others : ids);
  }

  #onTimeout(client: Client): void {
    const op = client.op;
    if (op === undefined) {
      return;
    }
    if (op.attempt >= this.#params.abandonAfterAttempts && this.#mayAbandon(op.input)) {
      this.#abandon(client, op);
      return;
    }
    this.retries++;
    client.leaderGuess = this.#otherNode(client.leaderGuess);
    this.#send(client);
  }

  /** A read may always be given up (it leaves no trace); a write within the limits. */
  #mayAbandon(input: KvInput): boolean {
    if (input.kind === 'get') {
      return true;
    }
    const params = this.#params;
    const perKey = this.#abandonedPerKey.get(input.key) ?? 0;
    return this.abandoned < params.abandonedMax && perKey < params.abandonedPerKeyMax;
  }

  #abandon(client: Client, op: ClientOp): void {
    const world = this.#runtime.world;
    world.trace.note(world.nowUs, `c${client.id} gives up op${op.opId} ${describeInput(op.input)}`);
    const input = op.input;
    if (input.kind !== 'get') {
      this.#history.push(this.#unknown(client.id, op));
      this.abandoned++;
      this.#abandonedPerKey.set(input.key, (this.#abandonedPerKey.get(input.key) ?? 0) + 1);
    }
    this.#finish(client, op);
  }

  /** Takes a node's answer that arrived over the network. */
  onResponse(response: KvResponse): void {
    const request = response.request;
    const client = this.#clients[request.clientId - clientIdBase];
    const op = client?.op;
    if (client === undefined || op === undefined || op.opId !== request.opId) {
      return; // an answer to an operation already finished
    }
    const world = this.#runtime.world;
    if (response.kind === 'ok') {
      world.trace.note(
        world.nowUs,
        `c${client.id} <- op${op.opId} ${describeOutput(response.output)}`,
      );
      this.#complete(client, response.output);
      return;
    }
    if (request.attempt !== op.attempt) {
      return; // a refusal of an earlier attempt: the current one is still on its way
    }
    this.retries++;
    if (response.kind === 'notLeader' && response.leaderHint !== 0) {
      client.leaderGuess = response.leaderHint as NodeId;
    } else if (response.kind === 'notLeader') {
      client.leaderGuess = this.#otherNode(client.leaderGuess);
    }
    // A hint is followed at once; a refusal (say, during a leadership transfer) is retried
    // soon, and later and later if it repeats.
    const backoffUs =
      response.kind === 'notLeader' && response.leaderHint !== 0
        ? 100
        : (1_000 + this.#runtime.random.int(5_000)) * Math.min(op.attempt, 16);
    world.after(backoffUs, () => {
      if (client.op === op && op.attempt === request.attempt) {
        this.#send(client);
      }
    });
  }

  #complete(client: Client, output: KvOutput): void {
    const op = client.op;
    if (op === undefined) {
      return;
    }
    this.#history.push({
      clientId: client.id,
      input: op.input,
      callTime: op.callTimeUs,
      output,
      returnTime: this.#runtime.world.nowUs,
    });
    this.completed++;
    const input = op.input;
    if (input.kind === 'get' && 'value' in output) {
      client.lastSeen.set(input.key, output.value);
    } else if (input.kind === 'put' || (input.kind === 'cas' && 'ok' in output && output.ok)) {
      client.lastSeen.set(input.key, input.value);
    }
    this.#finish(client, op);
  }

  #finish(client: Client, op: ClientOp): void {
    client.op = undefined;
    const key = op.input.key;
    this.#activePerKey.set(key, (this.#activePerKey.get(key) ?? 1) - 1);
    this.#runtime.world.after(this.#runtime.random.int(this.#params.thinkTimeMaxUs + 1), () => {
      this.#issue(client);
    });
  }
}
