/**
 * Goal: only a leader's appends and heartbeats leave before a Ready is persisted, and nothing
 * does when the Ready changes the term or the vote or installs a snapshot.
 * Method: hand-built Readys against splitForPersist; no I/O.
 */
import { describe, expect, it } from 'vitest';

import {
  asIndex,
  asNodeId,
  asTerm,
  makeMessage,
  MessageType,
  type HardState,
  type Message,
  type Ready,
} from '../index.ts';
import { splitForPersist } from './early_messages.ts';

const persisted: HardState = { term: asTerm(3), vote: asNodeId(1), commit: asIndex(5) };

function message(type: MessageType): Message {
  return makeMessage({ type, from: asNodeId(1), to: asNodeId(2), term: asTerm(3) });
}

function ready(fields: Partial<Ready>): Ready {
  return {
    softState: undefined,
    hardState: undefined,
    snapshotChunks: [],
    snapshot: undefined,
    entries: [],
    committedEntries: [],
    messages: [],
    readStates: [],
    mustSync: false,
    snapshotWanted: false,
    ...fields,
  };
}

const all = Object.values(MessageType).map(message);

describe('splitForPersist', () => {
  it('splitForPersist sends appends and heartbeats early and every answer after the persist', () => {
    const { early, late } = splitForPersist(ready({ messages: all }), persisted);
    expect(early.map((m) => m.type)).toEqual([MessageType.append, MessageType.heartbeat]);
    expect(late).toHaveLength(all.length - 2);
    expect(late.map((m) => m.type)).toContain(MessageType.appendResponse);
    expect(late.map((m) => m.type)).toContain(MessageType.voteResponse);
  });

  it('splitForPersist lets a commit-only hard state change send early', () => {
    const hardState = { ...persisted, commit: asIndex(9) };
    const { early } = splitForPersist(ready({ messages: all, hardState }), persisted);
    expect(early).toHaveLength(2);
  });

  it('splitForPersist holds everything back when the term or vote changes or a snapshot installs', () => {
    const cases: Partial<Ready>[] = [
      { hardState: { ...persisted, term: asTerm(4), vote: asNodeId(0) } },
      { hardState: { ...persisted, vote: asNodeId(2) } },
      { snapshot: { index: asIndex(9), term: asTerm(3), confState: { voters: [], learners: [] } } },
    ];
    for (const fields of cases) {
      const { early, late } = splitForPersist(ready({ messages: all, ...fields }), persisted);
      expect(early).toEqual([]);
      expect(late).toEqual(all);
    }
  });
});
