// Goal: exactly-once sessions (Raft thesis §6.3) apply each sequence number once, answer a
// retry with the original response, expire by leader-stamped time identically on every
// replica, survive snapshots, and treat malformed input as a deterministic no-op.
// Method: feed hand-built committed entries to SessionStateMachine over a counting application.
import { describe, expect, it } from 'vitest';
import {
  asIndex,
  asTerm,
  EntryType,
  type Entry,
  type LogIndex,
  type SnapshotMetadata,
} from '../index.ts';
import {
  decodeSessionResponse,
  encodeRegister,
  encodeSessionRequest,
  SessionStateMachine,
  SessionStatus,
  type SessionApplication,
} from './client_sessions.ts';
import type { SnapshotSource, SnapshotStream } from './ports.ts';
import { framedSnapshot, readFramedSnapshot } from './snapshot_stream.ts';

class Counter implements SessionApplication {
  count = 0;
  apply(payload: Uint8Array): Promise<Uint8Array> {
    this.count += payload[0] ?? 0;
    return Promise.resolve(new TextEncoder().encode(String(this.count)));
  }
  snapshot(sessionTable: Uint8Array): Promise<SnapshotSource> {
    return Promise.resolve(
      framedSnapshot([sessionTable, new TextEncoder().encode(String(this.count))]),
    );
  }
  async restore(_metadata: SnapshotMetadata, chunks: SnapshotStream): Promise<Uint8Array> {
    const [sessionTable, count] = await readFramedSnapshot(chunks, 2);
    this.count = Number(new TextDecoder().decode(count) || '0');
    return sessionTable ?? new Uint8Array(0);
  }
}

let nextIndex = 1;
function entry(data: Uint8Array): Entry {
  return { term: asTerm(1), index: asIndex(nextIndex++), type: EntryType.normal, data };
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(decodeSessionResponse(bytes).body);
}

async function register(sm: SessionStateMachine, stampMs: number): Promise<number> {
  const [answer] = await sm.apply([entry(encodeRegister(stampMs))]);
  const body = decodeSessionResponse(answer ?? new Uint8Array()).body;
  return new DataView(body.buffer, body.byteOffset).getFloat64(0);
}

function request(
  clientId: number,
  sequence: number,
  options: { ackedBelow?: number; add?: number; stampMs?: number } = {},
): Entry {
  return entry(
    encodeSessionRequest(
      {
        clientId,
        sequence,
        ackedBelow: options.ackedBelow ?? 0,
        payload: new Uint8Array([options.add ?? 1]),
      },
      options.stampMs ?? 1000,
    ),
  );
}

const limits = { sessionTtlMs: 60_000, responsesPerClientMax: 100 };

describe('SessionStateMachine', () => {
  it('SessionStateMachine.apply applies a retried sequence number once and returns the original answer', async () => {
    const app = new Counter();
    const sm = new SessionStateMachine(app, limits);
    const client = await register(sm, 1000);
    const [first] = await sm.apply([request(client, 1, { add: 5 })]);
    const [other] = await sm.apply([request(client, 2, { add: 1 })]);
    const [retry] = await sm.apply([request(client, 1, { add: 5 })]);
    expect(app.count).toBe(6);
    expect(text(first ?? new Uint8Array())).toBe('5');
    expect(text(other ?? new Uint8Array())).toBe('6');
    expect(retry).toEqual(first);
  });

  it('SessionStateMachine.apply keeps several outstanding sequence numbers per client', async () => {
    const app = new Counter();
    const sm = new SessionStateMachine(app, limits);
    const client = await register(sm, 1000);
    const answers = await sm.apply([
      request(client, 3),
      request(client, 1),
      request(client, 2),
      request(client, 1),
    ]);
    expect(answers.map((a) => text(a))).toEqual(['1', '2', '3', '2']);
    expect(app.count).toBe(3);
  });

  it('SessionStateMachine.apply forgets acknowledged responses and refuses their reuse', async () => {
    const sm = new SessionStateMachine(new Counter(), limits);
    const client = await register(sm, 1000);
    await sm.apply([request(client, 1), request(client, 2)]);
    const [answer] = await sm.apply([request(client, 1, { ackedBelow: 2 })]);
    expect(decodeSessionResponse(answer ?? new Uint8Array()).status).toBe(
      SessionStatus.responseDiscarded,
    );
  });

  it('SessionStateMachine.apply expires an idle session by leader-stamped time', async () => {
    const app = new Counter();
    const sm = new SessionStateMachine(app, limits);
    const client = await register(sm, 1000);
    const other = await register(sm, 1000 + limits.sessionTtlMs + 1);
    const [answer] = await sm.apply([
      request(client, 1, { stampMs: 1000 + limits.sessionTtlMs + 2 }),
    ]);
    expect(decodeSessionResponse(answer ?? new Uint8Array()).status).toBe(
      SessionStatus.sessionExpired,
    );
    expect(app.count).toBe(0);
    expect(sm.sessionCount()).toBe(1);
    expect(other).toBeGreaterThan(client);
  });

  it('SessionStateMachine.apply bounds unacknowledged responses per client', async () => {
    const sm = new SessionStateMachine(new Counter(), { ...limits, responsesPerClientMax: 2 });
    const client = await register(sm, 1000);
    const answers = await sm.apply([request(client, 1), request(client, 2), request(client, 3)]);
    expect(answers.map((a) => decodeSessionResponse(a).status)).toEqual([
      SessionStatus.ok,
      SessionStatus.ok,
      SessionStatus.tooManyOutstanding,
    ]);
  });

  it('SessionStateMachine.apply treats malformed commands as a deterministic no-op', async () => {
    const app = new Counter();
    const sm = new SessionStateMachine(app, limits);
    const bad = [
      new Uint8Array([9]),
      new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 0]),
      new Uint8Array(40).fill(255),
    ];
    const answers = await sm.apply(bad.map(entry));
    expect(answers.map((a) => decodeSessionResponse(a).status)).toEqual([
      SessionStatus.malformed,
      SessionStatus.malformed,
      SessionStatus.malformed,
    ]);
    expect(app.count).toBe(0);
  });

  it('SessionStateMachine.snapshot carries the session table to another replica', async () => {
    const sm = new SessionStateMachine(new Counter(), limits);
    const client = await register(sm, 1000);
    const [first] = await sm.apply([request(client, 1, { add: 7 })]);
    const source = await sm.snapshot();
    const replica = new SessionStateMachine(new Counter(), limits);
    const index = sm.appliedIndex();
    await replica.restore(
      { index, term: asTerm(1), confState: { voters: [], learners: [] } },
      source.chunks,
    );
    expect(replica.appliedIndex()).toBe(index);
    const [retry] = await replica.apply([request(client, 1, { add: 7 })]);
    expect(retry).toEqual(first);
  });

  it('SessionStateMachine.restore refuses a corrupt snapshot with a typed code', async () => {
    const sm = new SessionStateMachine(new Counter(), limits);
    const meta = { index: 5 as LogIndex, term: asTerm(1), confState: { voters: [], learners: [] } };
    const withTable = (table: string): SnapshotStream =>
      framedSnapshot([new TextEncoder().encode(table), new Uint8Array(0)]).chunks;
    await expect(sm.restore(meta, withTable('{not json'))).rejects.toMatchObject({
      code: 'COFFER_RAFT_LOG_CORRUPT',
    });
    await expect(sm.restore(meta, withTable('{"version":2}'))).rejects.toMatchObject({
      code: 'COFFER_RAFT_LOG_CORRUPT',
    });
  });
});
