/**
 * The replicated key-value state machine of the simulation, with exactly-once client sessions:
 * every write carries (clientId, seq); a client has one write in flight, so the session keeps
 * the last seq applied and its response. A retried proposal that commits twice is applied once
 * and answered with the original response; an older seq is ignored.
 *
 * `dedup: false` is the test-only broken variant "applying an entry twice after a retried
 * proposal": every copy is applied. Production code has no such switch.
 *
 * Also here: the request and response messages between clients and nodes.
 *
 * Invariant: hash() is a function of the state (keys, values, sessions) only, kept up to date
 * incrementally, so equal states at equal applied indexes give equal hashes.
 */
import { EntryType, type Entry } from '../../index.ts';
import type { KvCasInput, KvInput, KvOutput, KvPutInput } from '../kv_model.ts';

/** A write as it travels in a log entry. */
export interface KvCommand {
  readonly clientId: number;
  readonly seq: number;
  readonly input: KvPutInput | KvCasInput;
}

/** The outcome of applying one entry: whose write it was and what to answer. */
export interface KvApplyResult {
  readonly clientId: number;
  readonly seq: number;
  readonly output: KvOutput;
}

/** A client's request to a node. Writes carry the session's seq; reads carry seq 0. */
export interface KvRequest {
  readonly clientId: number;
  readonly opId: number;
  readonly attempt: number;
  readonly seq: number;
  readonly input: KvInput;
  /**
   * Harness only, never read by the system under test: the highest index committed anywhere
   * when the client sent this attempt, for the read-index safety check.
   */
  readonly committedAtSend: number;
}

/** A node's answer: the result, or "ask the leader", or "try again later". */
export type KvResponse =
  | { readonly kind: 'ok'; readonly request: KvRequest; readonly output: KvOutput }
  | { readonly kind: 'notLeader'; readonly request: KvRequest; readonly leaderHint: number }
  | { readonly kind: 'retry'; readonly request: KvRequest };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a write for a log entry. */
export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/**
 * Decoded commands by payload. Entries travel by reference in the simulation, so every node
 * that applies an entry reads the same bytes, and each payload is decoded once.
 */
const decoded = new WeakMap<Uint8Array, KvCommand | undefined>();

function parseCommand(data: Uint8Array): KvCommand | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(data));
    if (typeof value === 'object' && value !== null && 'clientId' in value && 'input' in value) {
      return value as KvCommand;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Decodes a write from a log entry, or undefined for bytes that are not one. */
export function decodeCommand(data: Uint8Array): KvCommand | undefined {
  if (decoded.has(data)) {
    return decoded.get(data);
  }
  const command = parseCommand(data);
  decoded.set(data, command);
  return command;
}

/** Scatters a string over 32 bits (FNV-1a then a murmur finalizer). */
function hashString(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

interface Session {
  readonly seq: number;
  readonly output: KvOutput;
}

function mixInt(h: number, value: number): number {
  let x = Math.imul(h ^ (value | 0), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function sessionHash(clientId: number, session: Session): number {
  const output = session.output;
  const code = 'ok' in output ? (output.ok ? 1 : 2) : 0;
  return mixInt(mixInt(mixInt(0x2545f491, clientId), session.seq), code);
}

interface SnapshotShape {
  readonly values: [string, string][];
  readonly sessions: [number, Session][];
}

/** Keys, values and client sessions of one node. */
export class KvStateMachine {
  readonly dedup: boolean;
  readonly #values = new Map<string, string>();
  readonly #sessions = new Map<number, Session>();
  #hash = 0;

  constructor(options: { dedup: boolean }) {
    this.dedup = options.dedup;
  }

  /** The hash of the whole state (see the invariant above). */
  hash(): number {
    return this.#hash;
  }

  /** The value of a key, or undefined when absent. */
  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  /**
   * Applies one committed entry. No-ops and membership changes leave the state alone; a write
   * returns whom to answer and what, or undefined when its session has moved past it.
   */
  apply(entry: Entry): KvApplyResult | undefined {
    if (entry.type !== EntryType.normal || entry.data.byteLength === 0) {
      return undefined;
    }
    const command = decodeCommand(entry.data);
    if (command === undefined) {
      throw new Error(`Cannot apply entry ${entry.index}: its data is not a KV command`);
    }
    const session = this.#sessions.get(command.clientId);
    if (this.dedup && session !== undefined && session.seq >= command.seq) {
      if (session.seq === command.seq) {
        return { clientId: command.clientId, seq: command.seq, output: session.output };
      }
      return undefined;
    }
    const output = this.#execute(command.input);
    this.#setSession(command.clientId, { seq: command.seq, output });
    return { clientId: command.clientId, seq: command.seq, output };
  }

  #execute(input: KvPutInput | KvCasInput): KvOutput {
    const current = this.#values.get(input.key);
    if (input.kind === 'put') {
      this.#setValue(input.key, input.value);
      return {};
    }
    const expected = input.expected ?? undefined;
    if (current !== expected) {
      return { ok: false };
    }
    this.#setValue(input.key, input.value);
    return { ok: true };
  }

  #setValue(key: string, value: string): void {
    const old = this.#values.get(key);
    if (old !== undefined) {
      this.#hash ^= hashString(`${key}=${old}`, 1);
    }
    this.#values.set(key, value);
    this.#hash ^= hashString(`${key}=${value}`, 1);
  }

  #setSession(clientId: number, session: Session): void {
    const old = this.#sessions.get(clientId);
    if (old !== undefined) {
      this.#hash ^= sessionHash(clientId, old);
    }
    this.#sessions.set(clientId, session);
    this.#hash ^= sessionHash(clientId, session);
  }

  /** Serializes the whole state. */
  snapshot(): Uint8Array {
    const shape: SnapshotShape = { values: [...this.#values], sessions: [...this.#sessions] };
    return encoder.encode(JSON.stringify(shape));
  }

  /** Replaces the whole state with a snapshot's; empty data is the empty state. */
  restore(data: Uint8Array): void {
    this.#values.clear();
    this.#sessions.clear();
    this.#hash = 0;
    if (data.byteLength === 0) {
      return;
    }
    const shape = JSON.parse(decoder.decode(data)) as SnapshotShape;
    for (const [key, value] of shape.values) {
      this.#setValue(key, value);
    }
    for (const [clientId, session] of shape.sessions) {
      this.#setSession(clientId, session);
    }
  }
}
