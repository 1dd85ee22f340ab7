/**
 * Goal: a dev cluster node process: it is running once it prints its gRPC address; a process
 * that exits first fails the start with its exit and last stderr lines; stop() sends SIGTERM and
 * kills a process that ignores it once the grace is over; an aborted start kills the process;
 * the child's environment has no secret-bearing variable and no inspector option.
 * Method: small `node -e` scripts stand in for `coffer server` (the arguments the real command
 * gets are appended and ignored); waits are on the process's own events.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { childExecArgv, NodeProcess, nodeEnvironment } from './dev_cluster_process.ts';

let root = '';
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-dev-process-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function startScript(script: string, signal?: AbortSignal): Promise<NodeProcess> {
  return NodeProcess.start({
    command: { file: process.execPath, args: ['-e', script] },
    configFile: join(root, 'coffer.yaml'),
    outputFile: join(root, 'output.log'),
    env: { PATH: process.env['PATH'] ?? '' },
    deadlineMs: 20_000,
    ...(signal === undefined ? {} : { signal }),
  });
}

const serving = "console.log('  gRPC API:  127.0.0.1:8200 (TLS)'); setInterval(() => {}, 1000);";

describe('NodeProcess', () => {
  it('NodeProcess.start resolves with the printed address; stop() ends it with SIGTERM', async () => {
    const node = await startScript(serving);
    expect(node.grpcAddress).toBe('127.0.0.1:8200');
    expect(node.running).toBe(true);
    expect(await node.stop(10_000)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(node.running).toBe(false);
    expect(await readFile(join(root, 'output.log'), 'utf8')).toContain('gRPC API:');
  });

  it('NodeProcess.stop kills a process that ignores SIGTERM once the grace is over', async () => {
    const node = await startScript(`process.on('SIGTERM', () => {}); ${serving}`);
    expect(await node.stop(300)).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('NodeProcess.start fails with the exit and the last stderr lines of a process that exits first', async () => {
    await expect(
      startScript("console.error('Error: listen EADDRINUSE'); process.exit(3);"),
    ).rejects.toMatchObject({
      code: 'COFFER_API_DEV_SETUP_FAILED',
      message: expect.stringMatching(/exit code 3[\s\S]*EADDRINUSE/) as unknown,
    });
  });

  it('NodeProcess.start kills the process when the start is aborted', async () => {
    const abort = new AbortController();
    const started = startScript('setInterval(() => {}, 1000);', abort.signal);
    abort.abort();
    await expect(started).rejects.toThrow(/interrupted/);
  });
});

describe('nodeEnvironment', () => {
  it('nodeEnvironment drops secret-bearing variables and inspector options', () => {
    const env = nodeEnvironment({
      PATH: '/bin',
      COFFER_TOKEN: 'x',
      VAULT_TOKEN: 'y',
      COFFER_CACERT: '/ca.pem',
      NODE_OPTIONS: '--inspect=9229 --max-old-space-size=512',
    });
    expect(env).toEqual({
      PATH: '/bin',
      COFFER_CACERT: '/ca.pem',
      NODE_OPTIONS: '--max-old-space-size=512',
    });
  });

  it('childExecArgv keeps the loader options and drops inspector options', () => {
    expect(
      childExecArgv(['--import', 'tsx', '--inspect-brk', '--conditions=@coffer/source']),
    ).toEqual(['--import', 'tsx', '--conditions=@coffer/source']);
  });
});
