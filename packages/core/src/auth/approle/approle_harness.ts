/**
 * A test harness for the AppRole backend: a MemoryStorageView, a ManualClock and a small router
 * stand-in that matches a path to a route, parses its fields, asks `exists` to tell a create
 * from an update, and calls the handler — what the real router does, minus tokens and audit.
 * For the tests of this directory only.
 */
import { ManualClock } from '@coffer/raft/testing';

import { CoreError, CoreErrorCode } from '../../errors.ts';
import type {
  Backend,
  BackendRequest,
  BackendResponse,
  MountInfo,
  Route,
} from '../../router/backend.ts';
import { parseFields } from '../../router/fields.ts';
import { MemoryStorageView } from '../../router/memory_storage_view.ts';
import type { Operation, RequestData } from '../../router/request.ts';
import type { WriteBatch, WriteOutcome } from '../../router/storage_view.ts';
import type { LoginLimiterOptions } from '../login_limiter.ts';
import { createAppRoleBackend } from './backend.ts';

/** The mount the harness serves. */
export const harnessMount: MountInfo = {
  path: 'auth/approle/',
  type: 'approle',
  uuid: '00000000-0000-4000-8000-000000000001',
  accessor: 'auth_approle_test',
  defaultLeaseTtlSeconds: 3600,
  maxLeaseTtlSeconds: 86400,
  options: {},
};

/** Options of one harness call. */
export interface CallOptions {
  readonly clientAddress?: string;
}

/** One request to the harness. */
export interface HarnessCall extends CallOptions {
  readonly operation: Operation;
  readonly path: string;
  readonly data?: RequestData;
}

function match(route: Route, path: string): Record<string, string> | undefined {
  const parts = route.pattern.split('/');
  const segments = path.split('/');
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const segment = segments[i];
    if (segment === undefined) {
      return undefined;
    }
    if (part.startsWith('*')) {
      params[part.slice(1)] = segments.slice(i).join('/');
      return params;
    }
    if (part.startsWith(':')) {
      params[part.slice(1)] = segment;
    } else if (part !== segment) {
      return undefined;
    }
  }
  return segments.length === parts.length ? params : undefined;
}

/** A memory view that counts the writes whose conditions failed (to see races happen). */
class CountingMemoryView extends MemoryStorageView {
  refusedWrites = 0;

  override async write(batch: WriteBatch): Promise<WriteOutcome> {
    const outcome = await super.write(batch);
    this.refusedWrites += outcome.ok ? 0 : 1;
    return outcome;
  }
}

/** An AppRole backend over memory, driven like the router drives it. */
export class AppRoleHarness {
  readonly clock = new ManualClock();
  /** The mount's whole state, as the backend sees it. */
  readonly view = new CountingMemoryView();
  /** The same state, for tests that scan every stored byte. */
  readonly memory: MemoryStorageView = this.view;
  readonly backend: Backend;

  constructor(limiter?: LoginLimiterOptions) {
    this.clock.advance(1_700_000_000_000);
    this.backend = createAppRoleBackend(harnessMount, {
      clock: this.clock,
      ...(limiter === undefined ? {} : { limiter }),
    });
  }

  /** Serves one request without a client address. */
  call(operation: Operation, path: string, data: RequestData = {}): Promise<BackendResponse> {
    return this.serve({ operation, path, data });
  }

  /** Serves one request, as the router would; throws the handler's CoreError. */
  async serve(call: HarnessCall): Promise<BackendResponse> {
    const { operation, path } = call;
    const data = call.data ?? {};
    for (const route of this.backend.routes) {
      const params = match(route, path);
      if (params === undefined) {
        continue;
      }
      const request: BackendRequest = {
        operation,
        path,
        params,
        fields: parseFields(route.fields ?? {}, data),
        data,
        storage: this.view,
        mount: harnessMount,
        caller: undefined,
        clientAddress: call.clientAddress,
        requestId: 'request-1',
        nowMs: this.clock.nowMs(),
      };
      let op = operation;
      if (op === 'update' && route.exists !== undefined && !(await route.exists(request))) {
        op = 'create';
      }
      const handler = route.operations[op];
      if (handler === undefined) {
        throw new CoreError(CoreErrorCode.unsupportedOperation, `No ${op} on ${route.pattern}`);
      }
      return handler({ ...request, operation: op });
    }
    throw new CoreError(CoreErrorCode.notFound, 'No route');
  }

  /** Writes role `name` with `data`. */
  async writeRole(name: string, data: RequestData = {}): Promise<void> {
    await this.call('update', `role/${name}`, data);
  }

  /** The role_id of role `name`. */
  async roleId(name: string): Promise<string> {
    const response = await this.call('read', `role/${name}/role-id`);
    return String(response.data?.['role_id']);
  }

  /** Generates a secret_id for role `name`; its value and accessor. */
  async secretId(
    name: string,
    data: RequestData = {},
  ): Promise<{ secretId: string; accessor: string }> {
    const response = await this.call('update', `role/${name}/secret-id`, data);
    return {
      secretId: String(response.data?.['secret_id']),
      accessor: String(response.data?.['secret_id_accessor']),
    };
  }

  /** Logs in; the response or the thrown error. */
  async login(
    credentials: { readonly roleId: string; readonly secretId?: string },
    options: CallOptions = {},
  ): Promise<BackendResponse> {
    const data: Record<string, string> = { role_id: credentials.roleId };
    if (credentials.secretId !== undefined) {
      data['secret_id'] = credentials.secretId;
    }
    return this.serve({ operation: 'update', path: 'login', data, ...options });
  }

  /** Every stored byte, decoded, keys and values (to look for leaked secrets). */
  storedText(): string {
    const decoder = new TextDecoder();
    return [...this.memory.entries()]
      .map(
        ([key, value]) =>
          `${key}\n${decoder.decode(value.value)}\n${Buffer.from(value.value).toString('hex')}`,
      )
      .join('\n');
  }
}
