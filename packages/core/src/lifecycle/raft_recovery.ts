/**
 * `coffer operator raft recover`: forces the Raft configuration of one STOPPED node whose
 * cluster lost quorum for good (docs/design/cluster.md §7). Unsafe, like Vault's peers.json:
 * writes the lost nodes acknowledged that never reached this node are gone, and every listed
 * node must be recovered with the same file.
 *
 * It needs no unseal: the Raft log and its membership are not barrier-encrypted (storage holds
 * ciphertext values, but the log's structure is plain), so storage's recoverLogMembership does
 * the work in one synced batch. This file validates the peers file, and holds the node's state
 * directory while it runs, so a server (which holds that directory for its whole life, sealed or
 * not) can neither be running nor start meanwhile.
 */
import { existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

import { asNodeId, type ConfState, type HardState } from '@coffer/raft';
import { LevelStateStore, recoverLogMembership, StorageErrorCode } from '@coffer/storage';

import {
  checkPeersAreMembers,
  parseRecoveryPeers,
  peersFileBytesMax,
  type RecoveryPeer,
} from '../cluster/recovery_peers.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';

/** What to recover. */
export interface RaftRecoveryOptions {
  /** The node's data directory (the config's storage.path). */
  readonly dataDir: string;
  /** The node's own id (the config's node_id). */
  readonly nodeId: number;
  /** The peers file (see recovery_peers.ts). */
  readonly peersFile: string;
  /** Validate and report only; write nothing. */
  readonly dryRun?: boolean;
}

/** What a recovery did, for the operator. */
export interface RaftRecoveryReport {
  readonly peers: readonly RecoveryPeer[];
  /** The membership the log ended with before. */
  readonly before: ConfState;
  readonly hardStateBefore: HardState;
  readonly lastIndex: number;
  /** The forced membership. */
  readonly confState: ConfState;
  readonly hardState: HardState;
  /** How many membership-change entries of the log became no-ops. */
  readonly neutralizedCount: number;
  readonly dryRun: boolean;
}

async function readPeersFile(path: string): Promise<string> {
  try {
    const file = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(peersFileBytesMax + 1);
      const { bytesRead } = await file.read(buffer, 0, buffer.byteLength, 0);
      if (bytesRead > peersFileBytesMax) {
        throw new CoreError(
          CoreErrorCode.peersInvalid,
          `Shorten the peers file "${path}": it is larger than ${peersFileBytesMax} bytes; nothing was changed`,
        );
      }
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await file.close();
    }
  } catch (error) {
    if (error instanceof CoreError) {
      throw error;
    }
    throw new CoreError(
      CoreErrorCode.peersInvalid,
      `Check the peers file path and permissions: "${path}" cannot be read; nothing was changed`,
      { cause: error },
    );
  }
}

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

function inUse(dataDir: string, error: unknown): CoreError {
  return new CoreError(
    CoreErrorCode.dataDirInUse,
    `Stop the server first: a running process holds the data directory "${dataDir}" (recover runs offline only); nothing was changed`,
    { cause: error },
  );
}

/** Opens the state directory to hold its lock for the recovery. */
async function holdState(dataDir: string): Promise<LevelStateStore> {
  try {
    return await LevelStateStore.open(join(dataDir, 'state'));
  } catch (error) {
    throw codeOf(error) === StorageErrorCode.locked ? inUse(dataDir, error) : error;
  }
}

/**
 * Forces the Raft configuration of the stopped node in `options.dataDir` to the peers file's.
 * Throws COFFER_CORE_PEERS_INVALID (the file), COFFER_CORE_RECOVERY_REFUSED (no node here),
 * COFFER_CORE_DATA_DIR_IN_USE (a server runs on it), or a storage code when the log fails
 * verification; in each case nothing was written.
 */
export async function recoverRaftMembership(
  options: RaftRecoveryOptions,
): Promise<RaftRecoveryReport> {
  const { dataDir, nodeId } = options;
  const peers = parseRecoveryPeers(await readPeersFile(options.peersFile), nodeId);
  if (!existsSync(join(dataDir, 'state')) || !existsSync(join(dataDir, 'log'))) {
    throw new CoreError(
      CoreErrorCode.recoveryRefused,
      `Point at the data directory of a node that was initialized or joined: "${dataDir}" holds no node state and Raft log; nothing was changed`,
    );
  }
  const state = await holdState(dataDir);
  try {
    const report = await recoverLogMembership(join(dataDir, 'log'), {
      plan: (current) => {
        checkPeersAreMembers(peers, current.confState);
        return {
          voters: peers.filter((p) => !p.nonVoter).map((p) => asNodeId(p.id)),
          learners: peers.filter((p) => p.nonVoter).map((p) => asNodeId(p.id)),
        };
      },
      ...(options.dryRun === true ? { dryRun: true } : {}),
    }).catch((error: unknown) => {
      throw codeOf(error) === StorageErrorCode.locked ? inUse(dataDir, error) : error;
    });
    return {
      peers,
      before: report.before.confState,
      hardStateBefore: report.before.hardState,
      lastIndex: report.before.lastIndex,
      confState: report.confState,
      hardState: report.hardState,
      neutralizedCount: report.neutralizedCount,
      dryRun: report.dryRun,
    };
  } finally {
    await state.close();
  }
}
