/**
 * `--stale` on the read commands (`read`, `list`, `kv get`, `kv list`): the read may be answered
 * from a node's applied state when no leader answers (a partition, an election), so it keeps
 * working while the cluster cannot commit, and may miss recent writes. The server refuses it on
 * `sys/`, `auth/` and `cubbyhole/` paths (COFFER_CORE_STALE_READ_REFUSED, exit 2); a stale
 * answer carries a warning (stderr) naming the Raft index it was served at.
 */
import { Option } from 'commander';

import type { CallOptions } from '@coffer/client';

/** The options of a command that takes `--stale`. */
export interface StaleOptions {
  readonly stale?: boolean;
}

/** The `--stale` flag. */
export function staleOption(): Option {
  return new Option(
    '--stale',
    "allow the answer from a node's possibly stale state when no leader answers (secrets only)",
  );
}

/** The call options argument `--stale` asks for: none without it (the call is as before). */
export function staleCallArgs(options: StaleOptions): [] | [CallOptions] {
  return options.stale === true ? [{ consistency: 'stale' }] : [];
}
