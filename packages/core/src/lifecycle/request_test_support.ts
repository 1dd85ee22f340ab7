/**
 * Test support for request-path tests on a real node: a single-voter CofferNode on LevelDB in
 * a temporary directory, initialized, with its root token, a file server log and an audit
 * opener that can fail writes for chosen files. Requests run through CofferNode.handle, driven
 * on the manual clock (no sleeps).
 */
import { join } from 'node:path';

import { InMemoryNetwork, ManualClock } from '@coffer/raft/testing';

import {
  openAuditFile,
  type AuditFileHandle,
  type OpenAuditFile,
} from '../audit/audit_file_handle.ts';
import { createServerLog } from '../logging/server_log.ts';
import type { CoreRequest, CoreResponse, CoreSuccess } from '../router/request.ts';
import type { CofferNode } from './coffer_node.ts';
import { drive, openNode, singleNodeOptions, tempRoot, type Harness } from './lifecycle_harness.ts';

/** Files whose audit writes fail with `code` while it is set. */
export class AuditFaults {
  readonly failing = new Map<string, string>();

  readonly open: OpenAuditFile = async (path) => this.#wrap(path, await openAuditFile(path));

  #wrap(path: string, inner: AuditFileHandle): AuditFileHandle {
    return {
      ...inner,
      write: (buffer, offset, length) => {
        const code = this.failing.get(path);
        return code === undefined
          ? inner.write(buffer, offset, length)
          : Promise.reject(Object.assign(new Error(`${code}: injected`), { code }));
      },
      datasync: () => inner.datasync(),
      truncate: (size) => inner.truncate(size),
      stat: () => inner.stat(),
      read: (...args: Parameters<AuditFileHandle['read']>) => inner.read(...args),
      close: () => inner.close(),
    };
  }
}

/** An initialized, unsealed node and what a test needs around it. */
export interface RequestFixture {
  readonly harness: Harness & { readonly clock: ManualClock };
  readonly node: CofferNode;
  readonly rootToken: string;
  readonly shares: readonly string[];
  readonly serverLogPath: string;
  readonly faults: AuditFaults;
  /** Every response so far, in order (for canary scans). */
  readonly responses: CoreResponse[];
  /** Sends one request through the node (driving the clock as needed). */
  call(request: CoreRequest): Promise<CoreResponse>;
  /** Sends one request that must succeed; returns the success. */
  ok(request: CoreRequest): Promise<CoreSuccess>;
  /** Mounts KV v2 at `secret/`. */
  mountKv(): Promise<void>;
  /** Writes AppRole role `name` (enabling `auth/approle/` first if needed); returns its role_id. */
  appRole(name: string, data: Record<string, unknown>): Promise<string>;
}

/** The set-up requests tests share: KV v2 at `secret/`, AppRole roles. */
function setupHelpers(
  ok: (request: CoreRequest) => Promise<CoreSuccess>,
  rootToken: string,
): Pick<RequestFixture, 'mountKv' | 'appRole'> {
  let appRoleEnabled = false;
  return {
    mountKv: async () => {
      await ok({
        operation: 'update',
        path: 'sys/mounts/secret',
        token: rootToken,
        data: { type: 'kv', options: { version: '2' } },
      });
    },
    appRole: async (name, data) => {
      if (!appRoleEnabled) {
        await ok({
          operation: 'update',
          path: 'sys/auth/approle',
          token: rootToken,
          data: { type: 'approle' },
        });
        appRoleEnabled = true;
      }
      await ok({ operation: 'update', path: `auth/approle/role/${name}`, token: rootToken, data });
      const read = await ok({
        operation: 'read',
        path: `auth/approle/role/${name}/role-id`,
        token: rootToken,
      });
      return String(read.data?.['role_id']);
    },
  };
}

/** Opens a fresh node in its own temporary directory and initializes it. */
export async function openRequestFixture(): Promise<RequestFixture> {
  const clock = new ManualClock();
  const harness = { root: await tempRoot(), clock, network: new InMemoryNetwork() };
  const serverLogPath = join(harness.root, 'server.log');
  const faults = new AuditFaults();
  const node = await openNode(harness, {
    ...singleNodeOptions(harness, { dir: 'node', seal: { type: 'shamir' } }),
    serverLog: createServerLog({ destination: serverLogPath, sync: true }),
    requests: { openAuditFile: faults.open },
  });
  const init = await drive(harness, node.init({ shares: 3, threshold: 2 }));
  if (init.rootToken === undefined) {
    throw new Error('init gave no root token');
  }
  const responses: CoreResponse[] = [];
  const call = async (request: CoreRequest): Promise<CoreResponse> => {
    const response = await drive(harness, node.handle(request));
    responses.push(response);
    return response;
  };
  const ok = async (request: CoreRequest): Promise<CoreSuccess> => {
    const response = await call(request);
    if (!response.ok) {
      throw new Error(
        `${request.operation} ${request.path} failed: ${response.code} ${response.message}`,
      );
    }
    return response;
  };
  const rootToken = init.rootToken;
  return {
    harness,
    node,
    rootToken,
    shares: init.unsealShares,
    serverLogPath,
    faults,
    responses,
    call,
    ok,
    ...setupHelpers(ok, rootToken),
  };
}
