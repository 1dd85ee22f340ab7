/**
 * `coffer operator raft recover --config <server config> --peers <peers.json> [--dry-run]`
 * (docs/design/cluster.md §7): forces the Raft configuration of a STOPPED node whose cluster
 * lost quorum for good, like Vault's peers.json. It runs offline on the node's data directory
 * (storage.path of the config `coffer server --config` runs with), needs no unseal and no
 * token, and refuses while a server holds the directory.
 *
 * Exit codes: 0 recovered (or, with --dry-run, would be); 1 anything refused: every failure is
 * local here, nothing is asked of a server.
 */
import type { Command } from 'commander';

import type { CliContext } from './cli_context.ts';
import type { GlobalOptions } from './client_settings.ts';
import { action, optionsOf, reportError, type OnExit } from './command_support.ts';

interface RecoverOptions extends GlobalOptions {
  readonly config: string;
  readonly peers: string;
  readonly dryRun?: boolean;
}

/** Printed on stderr before anything is read: what the operator is about to accept. */
export const recoverWarning =
  'WARNING: "operator raft recover" is unsafe. It forces the Raft configuration of this stopped node.\n' +
  '  - Writes the lost nodes acknowledged but never replicated to the listed nodes are lost.\n' +
  '  - Recover every listed node with the same peers file, and only those; then start them.\n' +
  '  - Never restart a lost node with its old data: wipe it and join it again with a new token.\n';

interface MembershipText {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

function membersText(conf: MembershipText): string {
  const list = (ids: readonly number[]) => (ids.length === 0 ? 'none' : ids.join(', '));
  return `voters ${list(conf.voters)}; non-voters ${list(conf.learners)}`;
}

/** Registers `recover` under `operator raft`. */
export function registerRaftRecover(raft: Command, context: CliContext, onExit: OnExit): void {
  raft
    .command('recover')
    .description(
      'Offline and unsafe: force the Raft configuration of a stopped node that lost quorum for good to the members of a peers file',
    )
    .requiredOption('--config <file>', 'the server config file of the stopped node')
    .requiredOption('--peers <file>', 'a JSON list of {id, address?, non_voter?}')
    .option('--dry-run', 'validate and print what would change; write nothing')
    .action(
      action(context, onExit, async (command) => {
        const options = optionsOf<RecoverOptions>(command);
        context.stderr(recoverWarning);
        const { recoverRaftFromConfig } = await import('@coffer/api');
        let outcome: Awaited<ReturnType<typeof recoverRaftFromConfig>>;
        try {
          outcome = await recoverRaftFromConfig({
            configFile: options.config,
            peersFile: options.peers,
            ...(options.dryRun === true ? { dryRun: true } : {}),
          });
        } catch (error) {
          reportError(context, error);
          return 1;
        }
        const before = outcome.hardStateBefore;
        context.stdout(
          `${outcome.dryRun ? 'Dry run, nothing written: would recover' : 'Recovered'} the Raft configuration of node ${outcome.nodeId} in "${outcome.dataDir}".\n` +
            `  Before: ${membersText(outcome.before)} (term ${before.term}, commit ${before.commit}, last index ${outcome.lastIndex})\n` +
            `  After:  ${membersText(outcome.confState)} (term ${outcome.hardState.term})\n` +
            `  Membership changes in the log made no-ops: ${outcome.neutralizedCount}\n` +
            (outcome.peers.some((peer) => peer.address !== undefined)
              ? '  Addresses in the peers file are not stored: members keep the addresses of their replicated member records.\n'
              : '') +
            (outcome.dryRun
              ? ''
              : 'Start the node and unseal it as usual; recover every other listed node with the same file first.\n'),
        );
        return undefined;
      }),
    );
}
