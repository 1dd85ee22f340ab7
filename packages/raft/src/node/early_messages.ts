/**
 * Which messages of a Ready may leave before the Ready is persisted (Raft thesis §10.2.1): a
 * leader's appends and heartbeats, so that its own disk write overlaps its followers'. This is
 * safe because the core counts the leader's own copy toward a quorum only once the driver
 * reports it persisted (RawNode.advance), so nothing commits on an unpersisted leader copy.
 *
 * Everything else waits for the disk: an answer to a peer (a vote, an append acknowledgement)
 * must never promise what a crash could take back, and after a term or vote change nothing
 * leaves before the new term and vote are durable (a candidate's own vote included).
 */
import { MessageType, type HardState, type Message, type Ready } from '../index.ts';

/** The messages of ready to send before persisting it, and those to send after. */
export function splitForPersist(
  ready: Ready,
  persisted: HardState,
): { readonly early: readonly Message[]; readonly late: readonly Message[] } {
  const hardState = ready.hardState;
  const termOrVoteChanges =
    hardState !== undefined &&
    (hardState.term !== persisted.term || hardState.vote !== persisted.vote);
  if (termOrVoteChanges || ready.snapshot !== undefined) {
    return { early: [], late: ready.messages };
  }
  const early: Message[] = [];
  const late: Message[] = [];
  for (const m of ready.messages) {
    (m.type === MessageType.append || m.type === MessageType.heartbeat ? early : late).push(m);
  }
  return { early, late };
}
