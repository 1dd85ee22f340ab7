/**
 * Goal: `coffer policy` writes a policy from a file or stdin, prints a policy's text, lists
 * names (a JSON array with --format json, one per line otherwise) and deletes.
 * Method: the command tree in-process against the client double.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

const text = 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\n';

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness({ token: 'caller-token' });
});
afterEach(async () => {
  await cli.dispose();
});

describe('coffer policy', () => {
  it('policy write reads the policy from a file or from stdin with -', async () => {
    const file = join(cli.home, 'app.hcl');
    await writeFile(file, text);
    const fromFile = await cli.run(['policy', 'write', 'app', file]);
    expect(fromFile).toMatchObject({ code: 0, stdout: 'Success! Uploaded policy: app\n' });
    await cli.run(['policy', 'write', 'ops', '-'], { stdin: text });
    expect(cli.client.callsOf('policies.write').map((call) => call.args[0])).toEqual([
      { name: 'app', policy: text },
      { name: 'ops', policy: text },
    ]);
    const missing = await cli.run(['policy', 'write', 'x', join(cli.home, 'absent.hcl')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('(COFFER_CLI_FILE_UNREADABLE)');
  });

  it('policy write refuses a file that is not UTF-8 instead of storing U+FFFD for its bytes', async () => {
    const file = join(cli.home, 'latin1.hcl');
    await writeFile(
      file,
      Buffer.from('path "secret/data/\xff" { capabilities = ["read"] }', 'latin1'),
    );
    const refused = await cli.run(['policy', 'write', 'bad', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not UTF-8.*\(COFFER_CLI_FILE_UNREADABLE\)/);
    expect(cli.client.callsOf('policies.write')).toEqual([]);
  });

  it('policy list prints names, and a JSON array with --format json', async () => {
    cli.client.answer('policies.list', { data: { keys: ['app', 'default', 'root'] } });
    const table = await cli.run(['policy', 'list']);
    expect(table.stdout).toBe('app\ndefault\nroot\n');
    const json = await cli.run(['policy', 'list', '--format', 'json']);
    expect(JSON.parse(json.stdout)).toEqual(['app', 'default', 'root']);
  });

  it('policy read prints the text; policy delete deletes', async () => {
    cli.client.answer('policies.read', { data: { name: 'app', policy: text } });
    const read = await cli.run(['policy', 'read', 'app']);
    expect(read.stdout).toBe(text);
    await cli.run(['policy', 'delete', 'app']);
    expect(cli.client.callsOf('policies.delete')[0]?.args[0]).toEqual({ name: 'app' });
  });
});
