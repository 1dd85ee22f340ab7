/**
 * Goal: a node that meets a committed entry it cannot read (as a node would meet an entry type
 * from a newer Coffer) stops its Raft rather than guess: nothing of the entry's batch applies,
 * the failure names COFFER_CORE_UNKNOWN_ENTRY, and requests are refused instead of served from
 * a state that skipped an entry.
 * Method: a single-voter CofferNode on real LevelDB driven by a manual clock; the entry is
 * proposed raw through the node's Raft driver (a codec version this build does not know).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { closeOpenedNodes, drive, removeRoot } from './lifecycle_harness.ts';
import { openRequestFixture, type RequestFixture } from './request_test_support.ts';

let f: RequestFixture;

beforeAll(async () => {
  f = await openRequestFixture();
  await f.mountKv();
  await f.ok({
    operation: 'update',
    path: 'secret/data/before',
    token: f.rootToken,
    data: { data: { v: 1 } },
  });
});

afterAll(async () => {
  await closeOpenedNodes();
  await removeRoot(f.harness.root);
});

describe('an entry this node cannot read', () => {
  it('stops the node before the entry applies, with COFFER_CORE_UNKNOWN_ENTRY', async () => {
    const raft = f.node.raftNode;
    if (raft === undefined) {
      throw new Error('no Raft');
    }
    const appliedBefore = raft.raw.status().applied;
    // NB: codec version 0xEE: what a newer Coffer might write.
    const outcome = await drive(f.harness, raft.propose(new Uint8Array([0xee, 0x01, 0x02])));
    expect(outcome.ok).toBe(false);
    const failure = raft.failure();
    expect(failure).toBeDefined();
    expect((failure?.cause as { code?: string } | undefined)?.code).toBe(
      CoreErrorCode.unknownEntry,
    );
    expect(raft.raw.status().applied).toBe(appliedBefore);
    const read = await f.call({
      operation: 'read',
      path: 'secret/data/before',
      token: f.rootToken,
    });
    expect(read.ok).toBe(false);
  });
});
