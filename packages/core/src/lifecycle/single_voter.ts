/**
 * The Raft pieces of a node that runs alone (a single-voter cluster): its membership, a
 * transport that never has anyone to talk to, and the real monotonic clock. The server of
 * @coffer/api uses them until the HA cluster issue gives nodes an mTLS transport; the API may
 * not import @coffer/raft itself (STYLE.md 2.1), so core hands them over.
 */
import { asNodeId, type ConfState } from '@coffer/raft';
import { systemClock, type DriverClock, type Transport } from '@coffer/raft/node';

/** The membership of a cluster whose only voter is `id`. */
export function singleVoterConfState(id: number): ConfState {
  return { voters: [asNodeId(id)], learners: [] };
}

/** A single voter sends nothing; its transport only needs to exist. */
export function loneTransport(): Transport {
  return {
    send: () => undefined,
    listen: () => undefined,
    close: () => Promise.resolve(),
  };
}

/** The real clock of the Raft driver: the monotonic performance clock and Node's timers. */
export const monotonicClock: DriverClock = systemClock;
