/**
 * Proposes one membership change on the leader and waits until it applied. Raft allows one
 * pending change at a time, so a proposal refused while another is pending (autopilot's, or a
 * join's) is proposed again once that one applied, until the deadline.
 */
import type { ConfChange, ConfState } from '@coffer/raft';
import type { DriverClock, RaftNode } from '@coffer/raft/node';

import { CoreError, CoreErrorCode } from '../errors.ts';

const waitMs = 10_000;
const pollMs = 20;

/** Proposes `change` and resolves once `applied(confState)` holds. */
export async function proposeMembership(
  node: RaftNode,
  change: ConfChange,
  options: { readonly clock: DriverClock; readonly applied: (conf: ConfState) => boolean },
): Promise<void> {
  let refusal = '';
  let proposed = false;
  for (let waited = 0; waited < waitMs; waited += pollMs) {
    const status = node.raw.status();
    if (options.applied(status.confState)) {
      return;
    }
    if (status.softState.role !== 'leader') {
      break;
    }
    const raft = node.raw.raft;
    // NB: one membership change at a time: propose only when none is pending (ours included).
    if (!proposed && raft.pendingConfIndex <= raft.log.applied) {
      const outcome = node.proposeConfChange(change);
      proposed = outcome.ok;
      refusal = outcome.ok ? '' : outcome.message;
    }
    await new Promise<void>((resolve) => {
      options.clock.setTimer(pollMs, resolve);
    });
  }
  throw new CoreError(
    CoreErrorCode.notActive,
    `Retry the membership change: it did not apply in time${refusal === '' ? '' : ` (${refusal})`}`,
  );
}
