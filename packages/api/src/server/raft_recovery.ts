/**
 * `coffer operator raft recover --config <file> --peers <file>`: finds the node's data
 * directory and id the way `coffer server --config` does (storage.path and node_id of the same
 * config file), then runs core's offline recovery (docs/design/cluster.md §7).
 */
import { recoverRaftMembership, type RaftRecoveryReport } from '@coffer/core';

import { loadServerConfig } from './config.ts';

/** What to recover, named as the operator gives it. */
export interface RaftRecoveryRequest {
  /** The node's server config file (the one `coffer server --config` runs with). */
  readonly configFile: string;
  /** The peers file: a JSON list of {id, address?, non_voter?}. */
  readonly peersFile: string;
  /** Validate and report only; write nothing. */
  readonly dryRun?: boolean;
}

/** The recovery's outcome, with where it ran. */
export interface RaftRecoveryOutcome extends RaftRecoveryReport {
  readonly nodeId: number;
  readonly dataDir: string;
}

/**
 * Forces the Raft configuration of the stopped node that `request.configFile` describes.
 * Throws the config file's codes (COFFER_API_CONFIG_*) and core's recovery codes.
 */
export async function recoverRaftFromConfig(
  request: RaftRecoveryRequest,
): Promise<RaftRecoveryOutcome> {
  const config = await loadServerConfig(request.configFile);
  const report = await recoverRaftMembership({
    dataDir: config.storagePath,
    nodeId: config.nodeId,
    peersFile: request.peersFile,
    ...(request.dryRun === true ? { dryRun: true } : {}),
  });
  return { ...report, nodeId: config.nodeId, dataDir: config.storagePath };
}
