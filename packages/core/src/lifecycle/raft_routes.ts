/**
 * The Raft routes of `sys/storage/raft/` (Vault's paths), sudo like Vault's: `join-token` makes
 * a one-time join token (secret: it is in the response only, and the audit log HMACs it), and
 * `configuration` lists the members with their addresses and roles (list-peers), and
 * `remove-peer`, `promote` and `demote` ({server_id}) change one member and answer once the
 * change applied; `rotate-ca` starts a rotation of the cluster CA (the old one stays trusted for
 * one certificate lifetime); `autopilot/state` shows each member's health and the cluster's
 * failure tolerance. And `sys/ha-status` (sudo, as in Vault): the nodes, which is active, and
 * when the active node last heard from each.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Route } from '../router/backend.ts';
import { FieldType } from '../router/fields.ts';
import type { AutopilotState } from './autopilot_state.ts';
import type { MemberChange, PeerInfo } from './cluster_membership.ts';

/** What the routes need from the node. */
export interface RaftRoutesPort {
  /** A one-time join token (secret), valid for ttlMs or the default. */
  readonly joinToken: (ttlMs: number | undefined) => Promise<string>;
  /** The members as this node knows them. */
  readonly peers: () => readonly PeerInfo[];
  /** Starts a cluster CA rotation; answers how many CAs are trusted now. */
  readonly rotateCa: () => Promise<number>;
  /** Changes one member (active node); resolves once the change applied. */
  readonly changeMember: (change: MemberChange, nodeId: number) => Promise<void>;
  /** The autopilot state view (active node). */
  readonly autopilotState: () => AutopilotState;
}

/** The node id of a membership route: `server_id` as Vault names it. */
function serverIdOf(fields: Readonly<Record<string, unknown>>): number {
  const id = fields['server_id'];
  if (typeof id !== 'number' || id < 1) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Give server_id as the node id of a member (coffer operator raft list-peers shows them)',
    );
  }
  return id;
}

function memberRoute(port: RaftRoutesPort, change: MemberChange, name: string): Route {
  return {
    pattern: `storage/raft/${name}`,
    sudo: true,
    fields: { server_id: { type: FieldType.int, required: true, description: 'the node id' } },
    operations: {
      update: async (request) => {
        await port.changeMember(change, serverIdOf(request.fields));
        return {};
      },
    },
  };
}

/** Join tokens may live from a minute to a day. */
const joinTokenTtlSecondsMin = 60;
const joinTokenTtlSecondsMax = 24 * 60 * 60;

/** The routes of `sys/storage/raft/`. */
export function raftRoutes(port: RaftRoutesPort): readonly Route[] {
  return [
    {
      pattern: 'storage/raft/join-token',
      sudo: true,
      fields: { ttl: { type: FieldType.duration, description: 'how long the token is valid' } },
      operations: {
        update: async (request) => {
          const ttl = request.fields['ttl'] as number | undefined;
          if (ttl !== undefined && (ttl < joinTokenTtlSecondsMin || ttl > joinTokenTtlSecondsMax)) {
            throw new CoreError(
              CoreErrorCode.invalidRequest,
              `Give ttl from ${joinTokenTtlSecondsMin} seconds to ${joinTokenTtlSecondsMax / 3600} hours`,
            );
          }
          const token = await port.joinToken(ttl === undefined ? undefined : ttl * 1000);
          return { data: { join_token: token } };
        },
      },
    },
    {
      pattern: 'storage/raft/configuration',
      sudo: true,
      operations: {
        read: () =>
          Promise.resolve({
            data: {
              servers: port.peers().map((peer) => ({
                node_id: String(peer.nodeId),
                address: peer.clusterAddress ?? '',
                api_address: peer.apiAddress ?? '',
                leader: peer.leader,
                voter: peer.voter,
              })),
            },
          }),
      },
    },
    {
      pattern: 'storage/raft/rotate-ca',
      sudo: true,
      operations: {
        update: async () => ({ data: { trusted_cas: await port.rotateCa() } }),
      },
    },
    {
      pattern: 'storage/raft/autopilot/state',
      sudo: true,
      operations: { read: () => Promise.resolve({ data: { ...port.autopilotState() } }) },
    },
    {
      pattern: 'ha-status',
      sudo: true,
      operations: { read: () => Promise.resolve({ data: haStatus(port.autopilotState()) }) },
    },
    memberRoute(port, 'remove', 'remove-peer'),
    memberRoute(port, 'promote', 'promote'),
    memberRoute(port, 'demote', 'demote'),
  ];
}

/** `sys/ha-status`: every node, which one is active, and when the active node heard from it. */
function haStatus(state: AutopilotState): Record<string, unknown> {
  const nodes = Object.values(state.servers).map((server) => ({
    node_id: server.id,
    api_address: server.api_address,
    cluster_address: server.address,
    active_node: server.status === 'leader',
    voter: server.status !== 'non-voter',
    last_contact_ms: server.last_contact_ms,
    healthy: server.healthy,
  }));
  const leader = state.servers[state.leader];
  return { leader_address: leader?.api_address ?? '', nodes };
}
