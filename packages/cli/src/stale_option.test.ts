/**
 * Goal: `--stale` on `read`, `list`, `kv get` and `kv list` asks the client for a stale read
 * (consistency "stale") and nothing else does; a stale answer's warning reaches stderr in every
 * output format (with --field too, and for lists), and `--format json` carries its applied
 * index; the server's refusal of the option exits 2 with its code; write commands do not know
 * the flag.
 * Method: the command tree in-process against the client double.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { CofferClientError } from '@coffer/client';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

const warning =
  "Stale read: no leader answered in time, so this was served from this node's applied state at Raft index 12; it may miss recent writes and revocations";
const staleAnswer = { warnings: [warning], staleRead: { appliedIndex: 12 } };

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness({ token: 'caller-token' });
});
afterEach(async () => {
  await cli.dispose();
});

describe('coffer --stale', () => {
  it('read, list, kv get and kv list pass consistency stale only with --stale', async () => {
    const commands: [string[], string][] = [
      [['read', 'secret/data/app'], 'logical.read'],
      [['list', 'secret/metadata/'], 'logical.list'],
      [['kv', 'get', 'secret/app'], 'kv.get'],
      [['kv', 'list', 'secret/'], 'kv.list'],
    ];
    for (const [args, name] of commands) {
      expect((await cli.run([...args, '--stale'])).code).toBe(0);
      expect((await cli.run(args)).code).toBe(0);
      const calls = cli.client.callsOf(name);
      expect(calls.map((call) => call.args.slice(1))).toEqual([[{ consistency: 'stale' }], []]);
    }
  });

  it('a stale answer warns on stderr and --format json carries its applied index', async () => {
    cli.client.answer('logical.read', { ...staleAnswer, data: { a: '1' } });
    cli.client.answer('kv.list', { ...staleAnswer, data: { keys: ['a', 'b'] } });
    cli.client.answer('kv.get', {
      ...staleAnswer,
      data: { data: { password: 'pw' }, metadata: { version: 1 } },
    });
    const table = await cli.run(['read', '--stale', 'secret/data/app']);
    expect(table.stderr).toContain(`WARNING! ${warning}`);
    const json = await cli.run(['read', '--stale', '--format', 'json', 'secret/data/app']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      stale_read: { applied_index: 12 },
      warnings: [warning],
    });
    const list = await cli.run(['kv', 'list', '--stale', '--format', 'json', 'secret/']);
    expect(JSON.parse(list.stdout)).toEqual(['a', 'b']);
    expect(list.stderr).toContain('WARNING! Stale read');
    const field = await cli.run(['kv', 'get', '--stale', '--field', 'password', 'secret/app']);
    expect(field.stdout).toBe('pw');
    expect(field.stderr).toContain('WARNING! Stale read');
  });

  it('a refusal of the option exits 2 with its code; writes do not take --stale', async () => {
    cli.client.answer('logical.read', {
      error: new CofferClientError(
        'COFFER_CORE_STALE_READ_REFUSED',
        'Send this request without the stale-read option: a system path (sys/) is never served stale (only reads and lists of secrets are)',
      ),
    });
    const refused = await cli.run(['read', '--stale', 'sys/mounts']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('COFFER_CORE_STALE_READ_REFUSED');
    const write = await cli.run(['write', '--stale', 'secret/data/app', 'a=1']);
    expect(write.code).toBe(1);
    expect(cli.client.callsOf('logical.write')).toEqual([]);
  });
});
