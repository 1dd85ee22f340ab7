/**
 * The CofferNode options of a server that runs one node alone (this issue; the HA cluster issue
 * replaces the lone transport with the cluster's mTLS one): a single voter, real monotonic time,
 * node:crypto randomness and the server log.
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

import type { ServerConfig } from './config.ts';

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

/** The options of the one node a server runs, from its config. */
export function singleNodeOptions(config: ServerConfig, log: ServerLog): CofferNodeOptions {
  return {
    dataDir: config.storagePath,
    id: config.nodeId,
    confState: singleVoterConfState(config.nodeId),
    transport: loneTransport,
    clock: monotonicClock,
    randomInt: (maxExclusive) => randomInt(maxExclusive),
    wallClockMs: () => Date.now(),
    seal: sealSettingOf(config),
    logger: sealLoggerOf(log),
    serverLog: log,
    requests: {
      requestBytesMax: config.limits.requestBytesMax,
      declaredAuditDevices: config.audit.map((device) => ({
        name: device.name,
        options: { file_path: device.filePath, fsync: device.fsync },
      })),
    },
  };
}
