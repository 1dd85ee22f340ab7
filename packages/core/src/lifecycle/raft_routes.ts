/**
 * The Raft routes of `sys/storage/raft/` (Vault's paths), sudo like Vault's: `join-token` makes
 * a one-time join token (secret: it is in the response only, and the audit log HMACs it), and
 * `configuration` lists the members with their addresses and roles (list-peers).
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Route } from '../router/backend.ts';
import { parseDurationSeconds } from '../router/fields.ts';
import type { PeerInfo } from './cluster_membership.ts';

/** What the routes need from the node. */
export interface RaftRoutesPort {
  /** A one-time join token (secret), valid for ttlMs or the default. */
  readonly joinToken: (ttlMs: number | undefined) => Promise<string>;
  /** The members as this node knows them. */
  readonly peers: () => readonly PeerInfo[];
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
      operations: {
        update: async (request) => {
          const raw = request.data['ttl'];
          const ttl = raw === undefined ? undefined : parseDurationSeconds(raw);
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
  ];
}
