/**
 * `status ID`: the leader's view of each member's progress (state, match, next, and what
 * pauses it), as etcd's status command prints the progress tracker.
 */
import { ProgressState, type Progress } from '../../index.ts';
import { parseCount, positionals, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

function describe(progress: Progress): string {
  const parts = [`${progress.state} match=${progress.match} next=${progress.next}`];
  if (progress.isLearner) {
    parts.push('learner');
  }
  if (progress.state === ProgressState.snapshot) {
    parts.push(
      `pendingSnapshot=${progress.pendingSnapshot} offset=${progress.snapshotOffsetBytes}`,
    );
  }
  if (progress.inflights.count() > 0) {
    parts.push(`inflight=${progress.inflights.count()}`);
  }
  if (progress.isPaused()) {
    parts.push('paused');
  }
  return parts.join(' ');
}

/** Handles `status`. */
export function handleStatus(env: InteractionEnv, testCase: TestCase): void {
  const [idText] = positionals(testCase);
  const raft = env.upNode(parseCount(idText ?? '', 'node id')).raw.raft;
  if (raft.role !== 'leader') {
    env.write(`${raft.id} is a ${raft.role}: only a leader tracks progress`);
    return;
  }
  for (const id of [...raft.progress.keys()].sort((a, b) => a - b)) {
    const progress = raft.progress.get(id);
    if (progress !== undefined) {
      env.write(`${id}: ${describe(progress)}`);
    }
  }
  if (raft.leadTransferee !== 0) {
    env.write(`leadTransferee=${raft.leadTransferee}`);
  }
}
