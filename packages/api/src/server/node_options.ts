/**
 * The CofferNode options of a server, from its config: real monotonic time, node:crypto
 * randomness and the server log; a node with a `cluster` section talks Raft over its cluster
 * port (mTLS), waits for init or a join before it starts Raft, and advertises its addresses; a
 * node without one runs alone (a single voter with a transport that sends nothing).
 *
 * NB: @coffer/api may import @coffer/core and @coffer/client only (STYLE.md 2.1), so the Raft
 * pieces (the monotonic clock, the no-op transport, the single voter's membership) come from
 * @coffer/core, which re-exports them.
 */
import { randomInt } from 'node:crypto';

import {
  loneTransport,
  monotonicClock,
  singleVoterConfState,
  type CofferNodeOptions,
  type NodeSealSetting,
  type SealLogger,
  type ServerLog,
} from '@coffer/core';

import type { ClusterPort } from '../cluster/cluster_port.ts';
import type { ClusterConfig, ServerConfig } from './config.ts';

/** The seal events of the node, into the server log (their fields are never secret). */
export function sealLoggerOf(log: ServerLog): SealLogger {
  return {
    info: (event, fields) => {
      log.info(event, fields);
    },
    warn: (event, fields) => {
      log.warn(event, fields);
    },
  };
}

function sealSettingOf(config: ServerConfig): NodeSealSetting {
  return config.seal.type === 'shamir'
    ? { type: 'shamir' }
    : { type: 'pkcs11', config: config.seal.config };
}

/** The options of the node a server runs, from its config (and its cluster port, if any). */
export function nodeOptionsOf(
  config: ServerConfig,
  log: ServerLog,
  clusterPort?: ClusterPort,
): CofferNodeOptions {
  return {
    dataDir: config.storagePath,
    id: config.nodeId,
    confState: singleVoterConfState(config.nodeId),
    transport: clusterPort === undefined ? loneTransport : () => clusterPort.transport(),
    ...clusterOptionsOf(config.cluster, clusterPort),
    clock: monotonicClock,
    randomInt: (maxExclusive) => randomInt(maxExclusive),
    wallClockMs: () => Date.now(),
    seal: sealSettingOf(config),
    ...(config.sealMigrationTarget === undefined
      ? {}
      : { sealMigrationTarget: config.sealMigrationTarget }),
    logger: sealLoggerOf(log),
    serverLog: log,
    ...(config.events === undefined ? {} : { events: config.events }),
    requests: {
      requestBytesMax: config.limits.requestBytesMax,
      declaredAuditDevices: config.audit.map((device) => ({
        name: device.name,
        options: { file_path: device.filePath, fsync: device.fsync },
      })),
    },
  };
}

/** Raft timing and the cluster identity's settings of a node with a cluster section. */
function clusterOptionsOf(
  cluster: ClusterConfig | undefined,
  port: ClusterPort | undefined,
): Partial<CofferNodeOptions> {
  if (cluster === undefined || port === undefined) {
    return {};
  }
  return {
    awaitInitOrJoin: true,
    // NB: one tick per heartbeat; an election after [timeout, 2 × timeout) without a leader.
    tickIntervalMs: cluster.heartbeatIntervalMs,
    raft: {
      heartbeatIntervalTicks: 1,
      electionTimeoutTicks: Math.max(
        3,
        Math.round(cluster.electionTimeoutMs / cluster.heartbeatIntervalMs),
      ),
    },
    cluster: {
      advertise: {
        clusterAddress: cluster.advertiseAddress,
        apiAddress: cluster.apiAdvertiseAddress,
      },
      certificateLifetimeMs: cluster.certificateLifetimeMs,
      autopilot: {
        stabilizationMs: cluster.serverStabilizationMs,
        lastContactThresholdMs: cluster.lastContactThresholdMs,
        maxTrailingLogs: cluster.maxTrailingLogs,
        ...(cluster.deadServerCleanup === undefined
          ? {}
          : { deadServerCleanup: cluster.deadServerCleanup }),
      },
      onIdentity: (identity) => {
        port.setIdentity(identity);
      },
    },
    onLeaderChange: (change) => {
      port.leaderChanged(change);
    },
    forward: (request) => port.forward(request),
  };
}
