/**
 * `raft-state`: one line per node: role, voter or learner, term, leader, commit and applied,
 * and whether it is down or isolated.
 */
import type { InteractionEnv } from '../interaction_env.ts';

function membership(voters: readonly number[], learners: readonly number[], id: number): string {
  if (voters.includes(id)) {
    return 'voter';
  }
  return learners.includes(id) ? 'learner' : 'non-member';
}

/** Handles `raft-state`. */
export function handleRaftState(env: InteractionEnv): void {
  for (const id of env.ids()) {
    const node = env.node(id);
    const status = node.raw.status();
    const role = membership(status.confState.voters, status.confState.learners, id);
    const flags = [node.down ? ' (down)' : '', env.isolated.has(id) ? ' (isolated)' : ''].join('');
    env.write(
      `${id}: ${status.softState.role} (${role}) term=${status.hardState.term} leader=${status.softState.leader} commit=${status.hardState.commit} applied=${status.applied}${flags}`,
    );
  }
}
