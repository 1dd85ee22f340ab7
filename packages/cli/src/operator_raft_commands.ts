/**
 * `coffer operator raft join-token|join|list-peers` (docs/design/cluster.md §3, §7):
 *
 *   join-token [--ttl 1h]   on the active node (token with sudo): prints a one-time join token
 *   join                    on the node that is to join (no token needed): reads the join token
 *                           from a no-echo prompt or stdin, never an argument
 *   list-peers              the members, their addresses, who leads and who votes (sudo)
 *   remove-peer|promote|demote <node-id>   change one member (sudo); a demoted node stays a
 *                           non-voter until promoted again
 *   rotate-ca               a new cluster CA issues from now on (sudo); the old one stays
 *                           trusted for one certificate lifetime
 *   recover --config --peers   offline, unsafe: force a stopped node's Raft configuration
 *                           (operator_raft_recover.ts)
 */
import type { Command } from 'commander';

import type { CliContext } from './cli_context.ts';
import { OutputFormat } from './cli_io.ts';
import {
  action,
  argsOf,
  optionsOf,
  withAnonymousClient,
  withClient,
  type FormatOptions,
  type OnExit,
} from './command_support.ts';
import { formatColumns, formatOption, stableJson } from './output.ts';
import { readSecret, refuseSecretArgument } from './secret_input.ts';
import { registerRaftRecover } from './operator_raft_recover.ts';

interface JoinTokenOptions extends FormatOptions {
  readonly ttl?: string;
}

function registerJoinToken(raft: Command, context: CliContext, onExit: OnExit): void {
  raft
    .command('join-token')
    .description('Make a one-time token a new node joins with (token with sudo); it is secret')
    .option('--ttl <duration>', 'how long the token is valid, e.g. 30m (default 1h, at most 24h)')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const options = optionsOf<JoinTokenOptions>(command);
        const response = await withClient(context, command, (client) =>
          client.logical.write(
            'sys/storage/raft/join-token',
            options.ttl === undefined ? {} : { ttl: options.ttl },
          ),
        );
        const joinToken = response.data['join_token'];
        const token = typeof joinToken === 'string' ? joinToken : '';
        context.stdout(
          options.format === OutputFormat.json ? stableJson({ join_token: token }) : `${token}\n`,
        );
        return undefined;
      }),
    );
}

function registerJoin(raft: Command, context: CliContext, onExit: OnExit): void {
  raft
    .command('join')
    .description(
      'Join the node at --address (fresh, or removed and unsealed: it keeps its data) to the cluster of a join token, read from a no-echo prompt or stdin',
    )
    .argument('[token]', 'refused: a token on the command line shows in ps and shell history')
    .action(
      action(context, onExit, async (command) => {
        const [argument] = argsOf(command) as [string | undefined];
        refuseSecretArgument(argument, 'Join token');
        const token = await readSecret(context.input, 'Join token');
        await withAnonymousClient(context, command, (client) =>
          client.logical.write('sys/storage/raft/join', { join_token: token }),
        );
        context.stdout(
          'Success! The node joined as a non-voter; unseal it, and it is promoted once caught up.\n',
        );
        return undefined;
      }),
    );
}

function registerListPeers(raft: Command, context: CliContext, onExit: OnExit): void {
  raft
    .command('list-peers')
    .description('List the members: node id, address, state and voter (token with sudo)')
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const options = optionsOf<FormatOptions>(command);
        const response = await withClient(context, command, (client) =>
          client.logical.read('sys/storage/raft/configuration'),
        );
        if (options.format === OutputFormat.json) {
          context.stdout(stableJson(response.data));
          return undefined;
        }
        const servers = (response.data['servers'] ?? []) as readonly Record<string, unknown>[];
        const rows = servers.map((server) => [
          String(server['node_id']),
          String(server['address']),
          server['leader'] === true ? 'leader' : 'follower',
          String(server['voter']),
        ]);
        context.stdout(formatColumns(['Node', 'Address', 'State', 'Voter'], rows));
        return undefined;
      }),
    );
}

function registerAutopilotState(raft: Command, context: CliContext, onExit: OnExit): void {
  raft
    .command('autopilot')
    .description('Autopilot views')
    .command('state')
    .description(
      'Show the health of every member, the failure tolerance and last contacts (token with sudo)',
    )
    .addOption(formatOption())
    .action(
      action(context, onExit, async (command) => {
        const options = optionsOf<FormatOptions>(command);
        const response = await withClient(context, command, (client) =>
          client.logical.read('sys/storage/raft/autopilot/state'),
        );
        if (options.format === OutputFormat.json) {
          context.stdout(stableJson(response.data));
          return undefined;
        }
        const data = response.data;
        const servers = Object.values(
          (data['servers'] ?? {}) as Readonly<Record<string, Record<string, unknown>>>,
        );
        const rows = servers.map((server) => [
          String(server['id']),
          String(server['address']),
          String(server['status']),
          String(server['healthy']),
          Number(server['last_contact_ms']) < 0
            ? 'never'
            : `${String(server['last_contact_ms'])} ms`,
          String(server['last_index']),
        ]);
        context.stdout(
          `Healthy: ${String(data['healthy'])}\nFailure tolerance: ${String(data['failure_tolerance'])}\nLeader: ${String(data['leader'])}\n\n` +
            formatColumns(
              ['Node', 'Address', 'Status', 'Healthy', 'Last contact', 'Last index'],
              rows,
            ),
        );
        return undefined;
      }),
    );
}

function registerMemberChange(
  raft: Command,
  run: { readonly context: CliContext; readonly onExit: OnExit },
  spec: { readonly name: string; readonly description: string; readonly done: string },
): void {
  const { context, onExit } = run;
  raft
    .command(spec.name)
    .description(spec.description)
    .argument('<node-id>', 'the node id (coffer operator raft list-peers)')
    .action(
      action(context, onExit, async (command) => {
        const [nodeId] = argsOf(command) as [string];
        await withClient(context, command, (client) =>
          client.logical.write(`sys/storage/raft/${spec.name}`, { server_id: nodeId }),
        );
        context.stdout(`Success! ${spec.done.replace('%s', nodeId)}\n`);
        return undefined;
      }),
    );
}

const memberChanges = [
  {
    name: 'remove-peer',
    description: 'Remove a node from the cluster (token with sudo)',
    done: 'Removed node %s.',
  },
  {
    name: 'promote',
    description: 'Make a non-voter a voter (token with sudo)',
    done: 'Node %s is a voter.',
  },
  {
    name: 'demote',
    description: 'Make a voter a non-voter; autopilot leaves it so (token with sudo)',
    done: 'Node %s is a non-voter.',
  },
] as const;

function registerRotateCa(raft: Command, context: CliContext, onExit: OnExit): void {
  raft
    .command('rotate-ca')
    .description('Rotate the cluster CA of the cluster port (token with sudo)')
    .action(
      action(context, onExit, async (command) => {
        const response = await withClient(context, command, (client) =>
          client.logical.write('sys/storage/raft/rotate-ca', {}),
        );
        const trusted = response.data['trusted_cas'];
        context.stdout(
          `Success! A new cluster CA issues now; ${String(trusted)} CAs are trusted until the old one retires after one certificate lifetime.\n`,
        );
        return undefined;
      }),
    );
}

/** Adds `coffer operator raft` with join-token, join, list-peers, autopilot state and member changes. */
export function registerRaftCommands(operator: Command, context: CliContext, onExit: OnExit): void {
  const raft = operator
    .command('raft')
    .description('Cluster membership: join tokens, joining, the peer list');
  registerJoinToken(raft, context, onExit);
  registerJoin(raft, context, onExit);
  registerListPeers(raft, context, onExit);
  registerAutopilotState(raft, context, onExit);
  for (const spec of memberChanges) {
    registerMemberChange(raft, { context, onExit }, spec);
  }
  registerRotateCa(raft, context, onExit);
  registerRaftRecover(raft, context, onExit);
}
