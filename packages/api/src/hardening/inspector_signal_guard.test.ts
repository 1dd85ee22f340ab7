/**
 * Goal: prove on real Node 20 processes that SIGUSR1 opens the inspector unless the guard is
 * installed, and that with the guard it stays closed and the signal is logged.
 * Method: two children of inspector_guard_child.ts, each with --inspect-port set to a port
 * that was free a moment ago (so parallel runs do not share 9229). Without the guard, wait for
 * "Debugger listening" on stderr and connect to the port. With it, wait for the logged
 * `inspector_signal_ignored` line, then ask the child for node:inspector url() over stdin and
 * check that nothing accepts a connection on the port. Every wait has a deadline; no sleeps.
 */
import { once } from 'node:events';
import { EventEmitter } from 'node:events';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, it } from 'vitest';

import { installInspectorSignalGuard } from './inspector_signal_guard.ts';
import { LineChild } from './line_child.ts';

const childScript = fileURLToPath(new URL('./inspector_guard_child.ts', import.meta.url));
const deadlineMs = 20_000;
const children: LineChild[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.signal('SIGKILL');
    await child.exited;
  }
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

async function start(mode: 'guard' | 'none', port: number): Promise<LineChild> {
  const child = new LineChild(childScript, {
    args: [mode],
    env: { PATH: process.env['PATH'] ?? '' },
    nodeOptions: [`--inspect-port=127.0.0.1:${String(port)}`],
    deadlineMs,
  });
  children.push(child);
  await child.waitForLine('ready line', (line) => line['event'] === 'ready');
  return child;
}

describe('installInspectorSignalGuard', () => {
  it('SIGUSR1 opens the inspector of a process without the guard', async () => {
    const port = await freePort();
    const child = await start('none', port);
    child.signal('SIGUSR1');
    await child.waitForStderr(/Debugger listening on ws:\/\/127\.0\.0\.1:\d+\//);
    expect(await canConnect(port)).toBe(true);
  }, 60_000);

  it('installInspectorSignalGuard keeps the inspector closed on SIGUSR1 and logs it', async () => {
    const port = await freePort();
    const child = await start('guard', port);
    child.signal('SIGUSR1');
    const logged = await child.waitForLine(
      'inspector_signal_ignored line',
      (line) => line['event'] === 'inspector_signal_ignored',
    );
    expect(logged).toMatchObject({ signal: 'SIGUSR1', count: 1 });
    child.send('report');
    const report = await child.waitForLine('report line', (line) => line['event'] === 'report');
    expect(report).toMatchObject({ inspectorUrl: null });
    expect(await canConnect(port)).toBe(false);
    expect(child.stderr).not.toContain('Debugger listening');
    expect(await child.end()).toBe(0);
  }, 60_000);

  it('installInspectorSignalGuard returns a function that removes the listener', () => {
    const target = new EventEmitter();
    const warnings: string[] = [];
    const remove = installInspectorSignalGuard({ warn: (event) => warnings.push(event) }, target);
    target.emit('SIGUSR1');
    expect(target.listenerCount('SIGUSR1')).toBe(1);
    remove();
    expect(target.listenerCount('SIGUSR1')).toBe(0);
    expect(warnings).toEqual(['inspector_signal_ignored']);
  });
});
