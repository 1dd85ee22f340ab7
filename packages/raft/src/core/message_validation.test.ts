// Goal: the negative space of peer input (STYLE.md §5.8, §8.6): every malformed, misaddressed
// or oversized message is refused with a typed code (COFFER_RAFT_INVALID_MESSAGE or
// COFFER_RAFT_MESSAGE_TOO_LARGE) and leaves the node exactly as it was: hard state, log,
// status and pending output. Method: a follower RawNode with a short log; for each corrupt
// variant of a valid message, step it into a fresh node and compare a fingerprint of the node
// taken before and after. The valid base messages are checked to be accepted, so each variant
// is refused for the one field it breaks.
import { describe, expect, it } from 'vitest';
import { type RaftConfigInput } from './config.ts';
import { RaftErrorCode, type RaftResult } from './errors.ts';
import { MemoryStorage } from './memory_storage.ts';
import { validateMessage } from './message_validation.ts';
import { RawNode } from './raw_node.ts';
import {
  asIndex,
  asNodeId,
  asTerm,
  EntryType,
  makeMessage,
  MessageType,
  type Entry,
  type Message,
  type SnapshotChunk,
} from './types.ts';

function entry(index: number, term: number, sizeBytes = 0): Entry {
  return {
    index: asIndex(index),
    term: asTerm(term),
    type: EntryType.normal,
    data: new Uint8Array(sizeBytes),
  };
}

/** A follower (id 1) in term 2 of {1, 2, 3} whose log holds 1..3 of term 1, commit 1. */
function newFollower(config: Partial<RaftConfigInput> = {}): RawNode {
  const storage = new MemoryStorage({
    voters: [asNodeId(1), asNodeId(2), asNodeId(3)],
    learners: [],
  });
  storage.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
  storage.setHardState({ term: asTerm(2), vote: asNodeId(2), commit: asIndex(1) });
  return new RawNode({
    id: asNodeId(1),
    storage,
    randomInt: () => 0,
    snapshotChunkSizeBytes: 16,
    ...config,
  });
}

function fingerprint(node: RawNode): string {
  const r = node.raft;
  return JSON.stringify({
    status: node.status(),
    hasReady: node.hasReady(),
    terms: Array.from({ length: r.log.lastIndex() }, (_, i) => r.log.term(asIndex(i + 1))),
    unstable: r.log.unstable.entries.length,
    messages: r.messages.length,
    snapshotChunks: r.snapshotChunks.length,
    electionElapsed: r.electionElapsed,
    leader: r.leader,
  });
}

function validAppend(): Message {
  return makeMessage({
    type: MessageType.append,
    from: asNodeId(2),
    to: asNodeId(1),
    term: asTerm(2),
    index: asIndex(3),
    logTerm: asTerm(1),
    entries: [entry(4, 2), entry(5, 2)],
    commit: asIndex(3),
  });
}

function validChunk(): SnapshotChunk {
  return {
    metadata: {
      index: asIndex(10),
      term: asTerm(2),
      confState: { voters: [asNodeId(1), asNodeId(2), asNodeId(3)], learners: [] },
    },
    offsetBytes: 0,
    data: new Uint8Array(8),
    done: false,
  };
}

function validSnapshot(): Message {
  return makeMessage({
    type: MessageType.snapshot,
    from: asNodeId(2),
    to: asNodeId(1),
    term: asTerm(2),
    snapshot: validChunk(),
  });
}

/** A copy of m with fields replaced by values its type does not allow. */
function corrupt(m: Message, patch: Record<string, unknown>): Message {
  return { ...m, ...patch };
}

function corruptChunk(patch: Record<string, unknown>): Message {
  return corrupt(validSnapshot(), { snapshot: { ...validChunk(), ...patch } });
}

function expectRefused(m: Message, code: string, config: Partial<RaftConfigInput> = {}): void {
  const node = newFollower(config);
  const before = fingerprint(node);
  let result: RaftResult | undefined;
  expect(() => {
    result = node.step(m);
  }).not.toThrow();
  expect(result).toMatchObject({ ok: false, code });
  expect(fingerprint(node)).toBe(before);
}

describe('RawNode.step with valid input', () => {
  it('RawNode.step accepts the valid base append and changes the log', () => {
    const node = newFollower();
    const before = fingerprint(node);
    expect(node.step(validAppend())).toEqual({ ok: true });
    expect(fingerprint(node)).not.toBe(before);
    expect(node.status().lastIndex).toBe(5);
  });

  it('RawNode.step accepts the valid base snapshot chunk', () => {
    const node = newFollower();
    expect(node.step(validSnapshot())).toEqual({ ok: true });
    expect(node.raft.snapshotChunks).toHaveLength(1);
  });

  it('RawNode.step accepts one entry larger than messageSizeBytesMax', () => {
    // At least one entry always goes out, so a lone large entry is within the protocol.
    const node = newFollower({ messageSizeBytesMax: 10 });
    const m = makeMessage({ ...validAppend(), entries: [entry(4, 2, 100)] });
    expect(node.step(m)).toEqual({ ok: true });
  });
});

describe('RawNode.step with malformed headers', () => {
  it('RawNode.step refuses an unknown message type', () => {
    expectRefused(corrupt(validAppend(), { type: 'appendz' }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { type: undefined }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { type: 'toString' }), RaftErrorCode.invalidMessage);
  });

  it('RawNode.step refuses a message addressed to another node', () => {
    expectRefused(corrupt(validAppend(), { to: 2 }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { to: 0 }), RaftErrorCode.invalidMessage);
  });

  it('RawNode.step refuses a message from node 0 or from a non-integer id', () => {
    expectRefused(corrupt(validAppend(), { from: 0 }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { from: 2.5 }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { from: '2' }), RaftErrorCode.invalidMessage);
  });

  for (const field of ['term', 'logTerm', 'index', 'commit', 'rejectHint']) {
    it(`RawNode.step refuses a negative, NaN, fractional or unsafe ${field}`, () => {
      for (const value of [
        -1,
        Number.NaN,
        2.5,
        Number.POSITIVE_INFINITY,
        2 ** 53,
        '3',
        undefined,
      ]) {
        expectRefused(corrupt(validAppend(), { [field]: value }), RaftErrorCode.invalidMessage);
      }
    });
  }

  it('RawNode.step refuses term 0, which is reserved', () => {
    expectRefused(corrupt(validAppend(), { term: 0, entries: [] }), RaftErrorCode.invalidMessage);
  });

  it('RawNode.step refuses a non-boolean reject or leaderTransfer', () => {
    expectRefused(corrupt(validAppend(), { reject: 'true' }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { leaderTransfer: 1 }), RaftErrorCode.invalidMessage);
  });

  it('RawNode.step refuses a context or entries of the wrong type', () => {
    expectRefused(corrupt(validAppend(), { context: 'abc' }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { entries: {} }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { entries: undefined }), RaftErrorCode.invalidMessage);
  });
});

describe('RawNode.step with malformed entries', () => {
  it('RawNode.step refuses entries that do not start right after index', () => {
    expectRefused(corrupt(validAppend(), { entries: [entry(5, 2)] }), RaftErrorCode.invalidMessage);
    expectRefused(corrupt(validAppend(), { entries: [entry(3, 2)] }), RaftErrorCode.invalidMessage);
  });

  it('RawNode.step refuses an index gap between entries', () => {
    expectRefused(
      corrupt(validAppend(), { entries: [entry(4, 2), entry(6, 2)] }),
      RaftErrorCode.invalidMessage,
    );
    expectRefused(
      corrupt(validAppend(), { entries: [entry(4, 2), entry(4, 2)] }),
      RaftErrorCode.invalidMessage,
    );
  });

  it('RawNode.step refuses a term regression between entries', () => {
    const m = corrupt(validAppend(), { term: 3, entries: [entry(4, 3), entry(5, 2)] });
    expectRefused(m, RaftErrorCode.invalidMessage);
  });

  it('RawNode.step refuses an entry term below logTerm or above the message term', () => {
    expectRefused(
      corrupt(validAppend(), { logTerm: 2, index: 3, entries: [entry(4, 1)] }),
      RaftErrorCode.invalidMessage,
    );
    expectRefused(corrupt(validAppend(), { entries: [entry(4, 3)] }), RaftErrorCode.invalidMessage);
  });

  it('RawNode.step refuses an entry with an unknown type, non-byte data or no object at all', () => {
    expectRefused(
      corrupt(validAppend(), { entries: [{ ...entry(4, 2), type: 'weird' }] }),
      RaftErrorCode.invalidMessage,
    );
    expectRefused(
      corrupt(validAppend(), { entries: [{ ...entry(4, 2), data: [1, 2] }] }),
      RaftErrorCode.invalidMessage,
    );
    expectRefused(corrupt(validAppend(), { entries: [null] }), RaftErrorCode.invalidMessage);
    expectRefused(
      corrupt(validAppend(), { entries: [{ ...entry(4, 2), index: 4.5 }] }),
      RaftErrorCode.invalidMessage,
    );
  });

  it('RawNode.step refuses entries on a message type other than append', () => {
    for (const type of [
      MessageType.heartbeat,
      MessageType.vote,
      MessageType.appendResponse,
      MessageType.readIndex,
    ]) {
      expectRefused(corrupt(validAppend(), { type }), RaftErrorCode.invalidMessage);
    }
  });

  it('RawNode.step refuses more entries than messageEntriesMax as too large', () => {
    const entries = [entry(4, 2), entry(5, 2), entry(6, 2), entry(7, 2), entry(8, 2)];
    expectRefused(corrupt(validAppend(), { entries }), RaftErrorCode.messageTooLarge, {
      messageEntriesMax: 4,
    });
  });

  it('RawNode.step refuses entries over messageSizeBytesMax as too large', () => {
    const entries = [entry(4, 2, 6), entry(5, 2, 6)];
    expectRefused(corrupt(validAppend(), { entries }), RaftErrorCode.messageTooLarge, {
      messageSizeBytesMax: 10,
    });
  });
});

describe('RawNode.step with malformed snapshot chunks', () => {
  it('RawNode.step refuses a snapshot message without a chunk', () => {
    expectRefused(corrupt(validSnapshot(), { snapshot: undefined }), RaftErrorCode.invalidMessage);
    expectRefused(
      corrupt(validSnapshot(), { type: MessageType.snapshotResponse, snapshot: undefined }),
      RaftErrorCode.invalidMessage,
    );
  });

  it('RawNode.step refuses a chunk with bad metadata', () => {
    const conf = validChunk().metadata.confState;
    const bad: Record<string, unknown>[] = [
      { index: -1, term: 2, confState: conf },
      { index: 10, term: Number.NaN, confState: conf },
      { index: 10.5, term: 2, confState: conf },
      { index: 10, term: 2, confState: { voters: [0], learners: [] } },
      { index: 10, term: 2, confState: { voters: [1.5], learners: [] } },
      { index: 10, term: 2, confState: { voters: [1], learners: 'none' } },
      { index: 10, term: 2, confState: undefined },
      { index: 10, term: 2 },
    ];
    for (const metadata of bad) {
      expectRefused(corruptChunk({ metadata }), RaftErrorCode.invalidMessage);
    }
    expectRefused(corruptChunk({ metadata: undefined }), RaftErrorCode.invalidMessage);
  });

  it('RawNode.step refuses a chunk with a bad offset, data or done flag', () => {
    for (const patch of [
      { offsetBytes: -1 },
      { offsetBytes: 1.5 },
      { offsetBytes: Number.NaN },
      { data: [1, 2, 3] },
      { data: 'abc' },
      { done: 'yes' },
      { done: undefined },
    ]) {
      expectRefused(corruptChunk(patch), RaftErrorCode.invalidMessage);
    }
  });

  it('RawNode.step refuses a chunk larger than snapshotChunkSizeBytes as too large', () => {
    expectRefused(corruptChunk({ data: new Uint8Array(17) }), RaftErrorCode.messageTooLarge);
  });

  it('RawNode.step refuses a snapshot chunk on a message of another type', () => {
    expectRefused(
      corrupt(validAppend(), { entries: [], snapshot: validChunk() }),
      RaftErrorCode.invalidMessage,
    );
    const heartbeat = makeMessage({
      type: MessageType.heartbeat,
      from: asNodeId(2),
      to: asNodeId(1),
      term: asTerm(2),
    });
    expectRefused(corrupt(heartbeat, { snapshot: validChunk() }), RaftErrorCode.invalidMessage);
  });
});

describe('RawNode.step refusals on a leader', () => {
  it('RawNode.step on a leader leaves it unchanged after a refused message', () => {
    const storage = new MemoryStorage({
      voters: [asNodeId(1), asNodeId(2), asNodeId(3)],
      learners: [],
    });
    const node = new RawNode({ id: asNodeId(1), storage, randomInt: () => 0 });
    node.raft.becomeCandidate();
    node.raft.becomeLeader();
    const before = fingerprint(node);
    const progressBefore = JSON.stringify(
      [...node.raft.progress.values()].map((p) => [p.match, p.next, p.state]),
    );
    const response = makeMessage({
      type: MessageType.appendResponse,
      from: asNodeId(2),
      to: asNodeId(1),
      term: asTerm(1),
      index: asIndex(1),
    });
    for (const patch of [
      { index: -1 },
      { term: 1.5 },
      { to: 3 },
      { entries: [entry(2, 1)] },
      { type: 'nope' },
    ]) {
      expect(node.step(corrupt(response, patch)).ok).toBe(false);
    }
    expect(fingerprint(node)).toBe(before);
    expect(
      JSON.stringify([...node.raft.progress.values()].map((p) => [p.match, p.next, p.state])),
    ).toBe(progressBefore);
  });
});

describe('validateMessage', () => {
  it('validateMessage accepts every message type in its zero shape', () => {
    const node = newFollower();
    for (const type of Object.values(MessageType)) {
      const m = makeMessage({ type, from: asNodeId(2), to: asNodeId(1), term: asTerm(2) });
      const withChunk =
        type === MessageType.snapshot || type === MessageType.snapshotResponse
          ? { ...m, snapshot: validChunk() }
          : m;
      expect(validateMessage(withChunk, node.raft.config), type).toEqual({ ok: true });
    }
  });
});
