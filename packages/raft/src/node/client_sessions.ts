/**
 * Exactly-once client sessions (Raft thesis §6.3). A client registers once and numbers its
 * requests; the replicated session table remembers each response until the client says it has
 * seen it, so a request retried after a timeout or a leader change is applied once and gets
 * the original answer.
 *
 * Every decision is a pure function of the table and the entry: time is the leader's wall clock
 * stamped into each entry (never the replica's own clock), so every replica expires the same
 * sessions at the same index.
 *
 * Invariant: for a live session, a sequence number is applied at most once.
 */
import {
  EntryType,
  RaftError,
  RaftErrorCode,
  type Entry,
  type LogIndex,
  type SnapshotMetadata,
} from '../index.ts';
import type { SnapshotSource, SnapshotStream, StateMachine } from './ports.ts';

/**
 * The application under the session layer: deterministic, given the entry's stamp. Its
 * snapshots carry the session table as opaque bytes, so that one snapshot (one stream, one
 * authentication) holds both.
 */
export interface SessionApplication {
  apply(payload: Uint8Array, context: { index: LogIndex; stampMs: number }): Promise<Uint8Array>;
  /** Pins the state as of this call, with sessionTable inside, and returns it to stream. */
  snapshot(sessionTable: Uint8Array): Promise<SnapshotSource>;
  /** Replaces the state from a snapshot; returns the session table it carried (may be empty). */
  restore(metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<Uint8Array>;
}

/** How the session layer answered a command. */
export const SessionStatus = {
  ok: 0,
  /** The session expired or never existed: register again (the request was not applied). */
  sessionExpired: 1,
  /** The response was already acknowledged and dropped: the client reused a sequence number. */
  responseDiscarded: 2,
  /** The entry does not decode as a session command (applied as a no-op everywhere alike). */
  malformed: 3,
  /** The client has too many unacknowledged responses; acknowledge some, then retry. */
  tooManyOutstanding: 4,
} as const;
/** Union of {@link SessionStatus} values. */
export type SessionStatus = (typeof SessionStatus)[keyof typeof SessionStatus];

/** A command from a registered client. */
export interface SessionRequest {
  readonly clientId: number;
  readonly sequence: number;
  /** Every sequence number below this one has been answered to the client: forget them. */
  readonly ackedBelow: number;
  readonly payload: Uint8Array;
}

const kindRegister = 1;
const kindRequest = 2;

function header(
  kind: number,
  stampMs: number,
  extra: number,
): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(9 + extra);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, kind);
  view.setFloat64(1, stampMs);
  return { bytes, view };
}

/** Encodes a registration, stamped by the leader. */
export function encodeRegister(stampMs: number): Uint8Array {
  return header(kindRegister, stampMs, 0).bytes;
}

/** Encodes a command, stamped by the leader. */
export function encodeSessionRequest(request: SessionRequest, stampMs: number): Uint8Array {
  const { bytes, view } = header(kindRequest, stampMs, 24 + request.payload.byteLength);
  view.setFloat64(9, request.clientId);
  view.setFloat64(17, request.sequence);
  view.setFloat64(25, request.ackedBelow);
  bytes.set(request.payload, 33);
  return bytes;
}

type Command =
  | { readonly kind: 'register'; readonly stampMs: number }
  | { readonly kind: 'request'; readonly stampMs: number; readonly request: SessionRequest };

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function decodeCommand(data: Uint8Array): Command | undefined {
  if (data.byteLength < 9) {
    return undefined;
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const kind = view.getUint8(0);
  const stampMs = view.getFloat64(1);
  if (!Number.isFinite(stampMs)) {
    return undefined;
  }
  if (kind === kindRegister && data.byteLength === 9) {
    return { kind: 'register', stampMs };
  }
  if (kind !== kindRequest || data.byteLength < 33) {
    return undefined;
  }
  const request = {
    clientId: view.getFloat64(9),
    sequence: view.getFloat64(17),
    ackedBelow: view.getFloat64(25),
    payload: data.slice(33),
  };
  const valid =
    isCount(request.clientId) && isCount(request.sequence) && isCount(request.ackedBelow);
  return valid ? { kind: 'request', stampMs, request } : undefined;
}

/** Encodes a session-layer answer: a status byte, then the application's response. */
export function encodeSessionResponse(status: SessionStatus, body: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(1 + body.byteLength);
  bytes[0] = status;
  bytes.set(body, 1);
  return bytes;
}

/** Decodes a session-layer answer. */
export function decodeSessionResponse(bytes: Uint8Array): {
  status: SessionStatus;
  body: Uint8Array;
} {
  const status = (bytes[0] ?? SessionStatus.malformed) as SessionStatus;
  return { status, body: bytes.slice(1) };
}

interface Session {
  lastStampMs: number;
  ackedBelow: number;
  readonly responses: Map<number, Uint8Array>;
}

/** Limits of the session table. */
export interface SessionLimits {
  /** A session unused for this long (by entry stamps) expires. */
  readonly sessionTtlMs: number;
  /** Unacknowledged responses kept per client. */
  readonly responsesPerClientMax: number;
}

interface SessionSnapshot {
  clockMs: number;
  sessions: {
    id: number;
    lastStampMs: number;
    ackedBelow: number;
    responses: [number, string][];
  }[];
}

function parseSnapshot(data: Uint8Array, index: LogIndex): SessionSnapshot {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(data)) as Partial<SessionSnapshot> & {
      version?: unknown;
    };
    if (
      parsed.version === 1 &&
      typeof parsed.clockMs === 'number' &&
      Array.isArray(parsed.sessions)
    ) {
      return parsed as SessionSnapshot;
    }
  } catch (error) {
    throw new RaftError(
      RaftErrorCode.logCorrupt,
      `Cannot restore the session table of snapshot ${index}: it does not parse`,
      { cause: error },
    );
  }
  throw new RaftError(
    RaftErrorCode.logCorrupt,
    `Cannot restore the session table of snapshot ${index}: unknown layout`,
  );
}

/** A {@link StateMachine} that adds exactly-once sessions over an application. */
export class SessionStateMachine implements StateMachine {
  readonly #app: SessionApplication;
  readonly #limits: SessionLimits;
  #sessions = new Map<number, Session>();
  #applied: LogIndex = 0 as LogIndex;
  #clockMs = 0;

  constructor(app: SessionApplication, limits: SessionLimits) {
    this.#app = app;
    this.#limits = limits;
  }

  appliedIndex(): LogIndex {
    return this.#applied;
  }

  /** Live sessions (for tests and status). */
  sessionCount(): number {
    return this.#sessions.size;
  }

  async apply(entries: readonly Entry[]): Promise<readonly Uint8Array[]> {
    const results: Uint8Array[] = [];
    for (const entry of entries) {
      results.push(await this.#applyOne(entry));
      this.#applied = entry.index;
    }
    return results;
  }

  async #applyOne(entry: Entry): Promise<Uint8Array> {
    if (entry.type !== EntryType.normal || entry.data.byteLength === 0) {
      return new Uint8Array(0);
    }
    const command = decodeCommand(entry.data);
    if (command === undefined) {
      return encodeSessionResponse(SessionStatus.malformed, new Uint8Array(0));
    }
    this.#clockMs = Math.max(this.#clockMs, command.stampMs);
    this.#expire();
    if (command.kind === 'register') {
      // The client id is the entry's index: unique and the same on every replica.
      this.#sessions.set(entry.index, {
        lastStampMs: this.#clockMs,
        ackedBelow: 0,
        responses: new Map(),
      });
      const id = new Uint8Array(8);
      new DataView(id.buffer).setFloat64(0, entry.index);
      return encodeSessionResponse(SessionStatus.ok, id);
    }
    return this.#applyRequest(entry.index, command.request);
  }

  async #applyRequest(index: LogIndex, request: SessionRequest): Promise<Uint8Array> {
    const session = this.#sessions.get(request.clientId);
    if (session === undefined) {
      return encodeSessionResponse(SessionStatus.sessionExpired, new Uint8Array(0));
    }
    session.lastStampMs = this.#clockMs;
    if (request.ackedBelow > session.ackedBelow) {
      session.ackedBelow = request.ackedBelow;
      for (const seq of session.responses.keys()) {
        if (seq < request.ackedBelow) {
          session.responses.delete(seq);
        }
      }
    }
    const cached = session.responses.get(request.sequence);
    if (cached !== undefined) {
      return cached;
    }
    if (request.sequence < session.ackedBelow) {
      return encodeSessionResponse(SessionStatus.responseDiscarded, new Uint8Array(0));
    }
    if (session.responses.size >= this.#limits.responsesPerClientMax) {
      return encodeSessionResponse(SessionStatus.tooManyOutstanding, new Uint8Array(0));
    }
    const body = await this.#app.apply(request.payload, { index, stampMs: this.#clockMs });
    const response = encodeSessionResponse(SessionStatus.ok, body);
    session.responses.set(request.sequence, response);
    return response;
  }

  #expire(): void {
    const horizon = this.#clockMs - this.#limits.sessionTtlMs;
    for (const [id, session] of this.#sessions) {
      if (session.lastStampMs < horizon) {
        this.#sessions.delete(id);
      }
    }
  }

  snapshot(): Promise<SnapshotSource> {
    const sessions = [...this.#sessions].map(([id, s]) => ({
      id,
      lastStampMs: s.lastStampMs,
      ackedBelow: s.ackedBelow,
      responses: [...s.responses].map(([seq, r]) => [seq, Buffer.from(r).toString('base64')]),
    }));
    const json = JSON.stringify({ version: 1, clockMs: this.#clockMs, sessions });
    return this.#app.snapshot(new TextEncoder().encode(json));
  }

  async restore(metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<void> {
    const table = await this.#app.restore(metadata, chunks);
    if (table.byteLength === 0) {
      this.#sessions = new Map();
      this.#clockMs = 0;
      this.#applied = metadata.index;
      return;
    }
    const parsed = parseSnapshot(table, metadata.index);
    this.#clockMs = parsed.clockMs;
    this.#sessions = new Map(
      parsed.sessions.map((s) => [
        s.id,
        {
          lastStampMs: s.lastStampMs,
          ackedBelow: s.ackedBelow,
          responses: new Map(
            s.responses.map(([seq, r]) => [seq, new Uint8Array(Buffer.from(r, 'base64'))]),
          ),
        },
      ]),
    );
    this.#applied = metadata.index;
  }
}
