/**
 * The client-bound check of `npm run bench:cluster`: a no-op TLS gRPC server in its own
 * process (api_bench_server.ts echo: Coffer's KV service definitions, answering a fixed
 * response at once), driven by the same load generator before each phase. When the load
 * generator cannot push at least twice a system's rate through it, that system's number is
 * flagged client-bound: it measured the client as much as the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { createSelfSignedTls } from '@coffer/api';

import type { LoadTarget, Operation } from './cluster_system.ts';
import { cofferKvTarget } from './coffer_kv_channels.ts';

/** The no-op server must reach this multiple of a system's rate, or the system is client-bound. */
export const clientBoundFactor = 2;

/** A running no-op server. */
export interface NoopServer {
  readonly pid: number;
  target(operation: Operation, channels: number): LoadTarget;
  close(): Promise<void>;
}

/** Starts api_bench_server.ts echo with fresh self-signed TLS material in `dir`. */
export async function startNoopServer(dir: string): Promise<NoopServer> {
  const tls = await createSelfSignedTls({ hosts: ['127.0.0.1'] });
  await writeFile(join(dir, 'tls.json'), JSON.stringify(tls), { mode: 0o600 });
  const script = new URL('./api_bench_server.ts', import.meta.url).pathname;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@coffer/source', script, 'echo', dir],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let port: number | undefined;
  if (child.stdout !== null) {
    for await (const line of createInterface({ input: child.stdout })) {
      port = (JSON.parse(line) as { port: number }).port;
      break;
    }
  }
  if (port === undefined) {
    throw new Error('bench:cluster: the no-op server exited before it served');
  }
  const address = `127.0.0.1:${port}`;
  return {
    pid: child.pid ?? 0,
    target: (operation, channels) =>
      cofferKvTarget({ operation, addresses: [address], channels, caPem: tls.certPem }),
    close: async () => {
      child.stdin?.end();
      await exited;
    },
  };
}
