/**
 * Raw writes to the replicated state, for the seal's records that must be readable while sealed
 * (seal_paths.ts). Everything else goes through SecureStore, which encrypts first.
 */
import type { RaftNode } from '@coffer/raft/node';
import {
  ApplyOutcome,
  decodeApplyResult,
  encodeStateCommand,
  StorageErrorCode,
  type StateCommand,
} from '@coffer/storage';

import { CoreError, CoreErrorCode } from '../errors.ts';

/** The outcome of a raw write: applied, or refused by a check-and-set condition. */
export type RawWriteOutcome =
  | { readonly applied: true }
  | { readonly applied: false; readonly key: string; readonly message: string };

/**
 * Proposes `command` and waits until it applies. A failed condition is returned (the caller
 * branches on it); not being the leader, or an entry that did not apply, throws.
 */
export async function proposeRaw(
  node: RaftNode,
  command: StateCommand,
  what: string,
): Promise<RawWriteOutcome> {
  const outcome = await node.propose(encodeStateCommand(command));
  if (!outcome.ok) {
    throw new CoreError(CoreErrorCode.notActive, `Cannot ${what}: ${outcome.message}`);
  }
  const result = decodeApplyResult(outcome.result);
  if (result === undefined) {
    throw new CoreError(
      CoreErrorCode.writeRefused,
      `Cannot ${what}: the replicated state answered with an unreadable result`,
    );
  }
  if (!result.ok && result.code === StorageErrorCode.casFailed) {
    return { applied: false, key: result.key, message: result.message };
  }
  if (!result.ok) {
    throw new CoreError(
      CoreErrorCode.writeRefused,
      `Cannot ${what}: the replicated state refused the command (${result.message})`,
    );
  }
  if (result.outcome !== ApplyOutcome.applied) {
    throw new CoreError(
      CoreErrorCode.writeRefused,
      `Cannot ${what}: the entry was not applied (${result.outcome})`,
    );
  }
  return { applied: true };
}
