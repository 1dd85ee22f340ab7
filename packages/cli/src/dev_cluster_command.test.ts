/**
 * Goal: `coffer dev cluster` argument handling: `--nodes` outside 1 to 7 or not a number is a
 * usage error (exit 1) before anything starts; a directory that is not empty is refused with
 * exit 1, the directory untouched, and the command's signal handlers removed again; `coffer dev`
 * lists `cluster`. (The cluster itself runs in test/src/dev_cluster.test.ts.)
 * Method: the command tree in-process (testing/cli_harness.ts), and runDevCluster with a fake
 * process that records its handlers.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { parseNodeCount, runDevCluster, type DevClusterHost } from './dev_cluster_command.ts';
import { createCliHarness, type CliHarness } from './testing/cli_harness.ts';

let cli: CliHarness;
beforeEach(async () => {
  cli = await createCliHarness({ token: 'caller-token' });
});
afterEach(async () => {
  await cli.dispose();
});

function fakeHost(): DevClusterHost & { readonly listeners: Set<string> } {
  const listeners = new Set<string>();
  return {
    listeners,
    on: (event: string) => listeners.add(event),
    once: (event: string) => listeners.add(event),
    off: (event: string) => listeners.delete(event),
    execPath: process.execPath,
    execArgv: [],
    argv: [process.execPath, '/nonexistent/main.js'],
    env: {},
  };
}

describe('coffer dev cluster', () => {
  it('parseNodeCount accepts 1 to 7 and refuses anything else', () => {
    expect(parseNodeCount('1')).toBe(1);
    expect(parseNodeCount('7')).toBe(7);
    for (const bad of ['0', '8', '-1', '2.5', 'three', '']) {
      expect(() => parseNodeCount(bad), bad).toThrow('Pass a whole number from 1 to 7.');
    }
  });

  it('coffer dev cluster refuses a bad --nodes as a usage error with exit 1', async () => {
    for (const bad of ['0', '8', 'x']) {
      const run = await cli.run(['dev', 'cluster', '--nodes', bad, '--dir', join(cli.home, 'c')]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`option '--nodes <n>' argument '${bad}' is invalid`);
      expect(run.stdout).toBe('');
    }
    expect(await readdir(cli.home)).not.toContain('c');
  });

  it('coffer dev lists cluster', async () => {
    const run = await cli.run(['dev', '--help']);
    expect(run.stdout).toMatch(/\n {2}cluster\b/);
  });

  it('runDevCluster refuses a directory that is not empty, exits 1 and removes its handlers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'coffer-dev-cluster-cli-'));
    try {
      await writeFile(join(dir, 'keep.txt'), 'mine');
      const out: string[] = [];
      const err: string[] = [];
      const host = fakeHost();
      const code = await runDevCluster(
        { nodes: 3, dir },
        { stdout: (text) => out.push(text), stderr: (text) => err.push(text) },
        host,
      );
      expect(code).toBe(1);
      expect(err.join('')).toMatch(
        /^Error: Pass an empty or new directory as --dir: .*\(COFFER_API_DEV_SETUP_FAILED\)\n$/,
      );
      expect(out).toEqual([]);
      expect(await readdir(dir)).toEqual(['keep.txt']);
      expect([...host.listeners]).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
