/**
 * The autopilot state view (Vault's `sys/storage/raft/autopilot/state`), computed on the active
 * node from its Raft progress: per member its role, last contact, how far its log has come and
 * whether it is healthy; for the cluster whether every voter is healthy and how many voters it
 * can lose and keep a quorum (failure tolerance).
 *
 * A member is healthy when the leader heard from it within `lastContactThresholdMs` and its log
 * trails the leader's by at most `maxTrailingLogs` entries (Vault's defaults: 10 s, 1000). The
 * leader is healthy by definition: it is the one answering.
 */
import { asIndex } from '@coffer/raft';
import type { RaftNode } from '@coffer/raft/node';

/** Where a member is reached (cluster_membership.ts PeerInfo). */
export interface MemberAddressesView {
  readonly nodeId: number;
  readonly clusterAddress: string | undefined;
  readonly apiAddress: string | undefined;
}

/** When a member counts as healthy. */
export interface HealthThresholds {
  /** Default 10 s. */
  readonly lastContactThresholdMs?: number;
  /** Default 1000 entries. */
  readonly maxTrailingLogs?: number;
}

export const lastContactThresholdMsDefault = 10_000;
export const maxTrailingLogsDefault = 1000;

/** One member as the active node sees it. */
export interface ServerState {
  readonly id: string;
  readonly address: string;
  readonly api_address: string;
  readonly status: 'leader' | 'voter' | 'non-voter';
  /** Ms since the leader last heard from it (0 for the leader); -1: never. */
  readonly last_contact_ms: number;
  /** The term and index of the last entry it has (its match, as the leader knows it). */
  readonly last_term: number;
  readonly last_index: number;
  readonly healthy: boolean;
}

/** The cluster as the active node sees it. */
export interface AutopilotState {
  readonly healthy: boolean;
  readonly failure_tolerance: number;
  readonly leader: string;
  readonly voters: readonly string[];
  readonly non_voters: readonly string[];
  readonly servers: Readonly<Record<string, ServerState>>;
}

/** The state of the cluster led by `node` (the active node), at nowMs of its clock. */
export function autopilotState(
  node: RaftNode,
  peers: readonly MemberAddressesView[],
  options: HealthThresholds & { readonly nowMs: number },
): AutopilotState {
  const raft = node.raw.raft;
  const conf = node.raw.status().confState;
  const lastIndex = raft.log.lastIndex();
  const contactMax = options.lastContactThresholdMs ?? lastContactThresholdMsDefault;
  const trailingMax = options.maxTrailingLogs ?? maxTrailingLogsDefault;
  const addresses = new Map(peers.map((p) => [p.nodeId, p]));
  const servers: Record<string, ServerState> = {};
  const members = [...conf.voters, ...conf.learners];
  for (const id of members) {
    const self = id === node.id;
    const match = self ? lastIndex : (raft.progress.get(id)?.match ?? asIndex(0));
    const heard = self ? options.nowMs : node.lastHeardFromMs(id);
    const contactMs = heard === undefined ? -1 : Math.max(0, options.nowMs - heard);
    const peer = addresses.get(id);
    servers[String(id)] = {
      id: String(id),
      address: peer?.clusterAddress ?? '',
      api_address: peer?.apiAddress ?? '',
      status: self ? 'leader' : conf.voters.includes(id) ? 'voter' : 'non-voter',
      last_contact_ms: contactMs,
      last_term: Number(raft.log.term(match) ?? 0),
      last_index: Number(match),
      healthy:
        self || (contactMs >= 0 && contactMs <= contactMax && lastIndex - match <= trailingMax),
    };
  }
  const healthyVoters = conf.voters.filter((id) => servers[String(id)]?.healthy === true).length;
  const quorum = Math.floor(conf.voters.length / 2) + 1;
  return {
    healthy: members.every((id) => servers[String(id)]?.healthy === true),
    failure_tolerance: Math.max(0, healthyVoters - quorum),
    leader: String(node.id),
    voters: conf.voters.map(String),
    non_voters: conf.learners.map(String),
    servers,
  };
}
