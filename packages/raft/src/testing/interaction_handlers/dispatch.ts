/**
 * The command table of the interaction scripts: one handler file per command (STYLE.md §8.1).
 * Kept apart from interaction_env.ts so that handlers can import the environment without a
 * cycle.
 */
import type { TestCase } from '../datadriven.ts';
import type { InteractionEnv, InteractionHandler } from '../interaction_env.ts';
import { handleAddNodes } from './add_nodes.ts';
import { handleCampaign } from './campaign.ts';
import { handleCompact } from './compact.ts';
import { handleCrash } from './crash.ts';
import { handleDeliverMsgs } from './deliver_msgs.ts';
import { handleHeal } from './heal.ts';
import { handleIsolate } from './isolate.ts';
import { handleLogLevel } from './log_level.ts';
import { handleProcessReady } from './process_ready.ts';
import { handlePropose } from './propose.ts';
import { handleProposeConfChange } from './propose_conf_change.ts';
import { handleRaftLog } from './raft_log.ts';
import { handleRaftState } from './raft_state.ts';
import { handleReadIndex } from './read_index.ts';
import { handleRestart } from './restart.ts';
import { handleSetRandomizedElectionTimeout } from './set_randomized_election_timeout.ts';
import { handleStabilize } from './stabilize.ts';
import { handleStateMachine } from './state_machine.ts';
import { handleStatus } from './status.ts';
import { handleTick } from './tick.ts';
import { handleTickElection } from './tick_election.ts';
import { handleTickHeartbeat } from './tick_heartbeat.ts';
import { handleTransferLeadership } from './transfer_leadership.ts';

/** Every command a script may use, by name. */
export const interactionHandlers: ReadonlyMap<string, InteractionHandler> = new Map([
  ['add-nodes', handleAddNodes],
  ['campaign', handleCampaign],
  ['compact', handleCompact],
  ['crash', handleCrash],
  ['deliver-msgs', handleDeliverMsgs],
  ['heal', handleHeal],
  ['isolate', handleIsolate],
  ['log-level', handleLogLevel],
  ['process-ready', handleProcessReady],
  ['propose', handlePropose],
  ['propose-conf-change', handleProposeConfChange],
  ['raft-log', handleRaftLog],
  ['raft-state', handleRaftState],
  ['read-index', handleReadIndex],
  ['restart', handleRestart],
  ['set-randomized-election-timeout', handleSetRandomizedElectionTimeout],
  ['stabilize', handleStabilize],
  ['state-machine', handleStateMachine],
  ['status', handleStatus],
  ['tick', handleTick],
  ['tick-election', handleTickElection],
  ['tick-heartbeat', handleTickHeartbeat],
  ['transfer-leadership', handleTransferLeadership],
]);

/** Runs one test case in the environment and returns its output. */
export function runInteraction(env: InteractionEnv, testCase: TestCase): string {
  const handler = interactionHandlers.get(testCase.command);
  if (handler === undefined) {
    throw new Error(`Use a known command: "${testCase.command}" is not one`);
  }
  handler(env, testCase);
  return env.takeOutput();
}
