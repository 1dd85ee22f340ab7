/**
 * Test helpers of the KV engine: a hand-built MountInfo, a harness that runs requests the way
 * the router does (route matching, field parsing, create-or-update by the existence check,
 * `create` falling back to `update`), a fixed, advanceable request instant, and a write gate
 * that holds writes to line up races deterministically.
 */
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
import { compileRoute, matchRoute, type CompiledRoute } from '../../router/route_match.ts';
import type { StorageView, WriteBatch, WriteOutcome } from '../../router/storage_view.ts';
import { createKvBackend } from './kv_backend.ts';

/** 2026-01-01T00:00:00Z, the harness's first request instant. */
export const kvTestEpochMs = Date.UTC(2026, 0, 1);

/** A kv mount at `secret/`. */
export function kvTestMount(
  options: Readonly<Record<string, string>> = { version: '2' },
): MountInfo {
  return {
    path: 'secret/',
    type: 'kv',
    uuid: '00000000-0000-4000-8000-000000000001',
    accessor: 'kv_0001',
    defaultLeaseTtlSeconds: 2764800,
    maxLeaseTtlSeconds: 2764800,
    options,
  };
}

/** Runs requests against one KV backend over one storage view. */
export class KvHarness {
  readonly memory: MemoryStorageView;
  readonly storage: StorageView;
  readonly backend: Backend;
  nowMs = kvTestEpochMs;
  readonly #routes: readonly CompiledRoute<undefined>[];

  /** `wrap` puts a view (a WriteGate) between the engine and the memory. */
  constructor(wrap: (memory: MemoryStorageView) => StorageView = (memory) => memory) {
    this.memory = new MemoryStorageView();
    this.storage = wrap(this.memory);
    this.backend = createKvBackend(kvTestMount());
    this.#routes = this.backend.routes.map((route) => compileRoute(route, undefined));
  }

  /** Moves the request instant on. */
  advance(ms: number): void {
    this.nowMs += ms;
  }

  /** The route of `path` and the request its handler would get (before create-or-update). */
  build(
    operation: Operation,
    path: string,
    data: RequestData = {},
  ): { readonly route: Route; readonly request: BackendRequest } {
    const match = matchRoute(this.#routes, path);
    if (match === undefined) {
      throw new CoreError(CoreErrorCode.notFound, `No route for "${path}"`);
    }
    const route = match.compiled.route;
    const request: BackendRequest = {
      operation,
      path,
      params: match.params,
      fields: parseFields(route.fields ?? {}, data),
      data,
      storage: this.storage,
      mount: kvTestMount(),
      caller: undefined,
      clientAddress: undefined,
      requestId: 'test-request',
      nowMs: this.nowMs,
    };
    return { route, request };
  }

  /** Serves one request as the router would (without tokens, policies or audit). */
  async request(
    operation: Operation,
    path: string,
    data: RequestData = {},
  ): Promise<BackendResponse> {
    const { route, request } = this.build(operation, path, data);
    const effective =
      operation === 'update' && route.exists !== undefined && !(await route.exists(request))
        ? 'create'
        : operation;
    const handler =
      route.operations[effective] ?? (effective === 'create' ? route.operations.update : undefined);
    if (handler === undefined) {
      throw new CoreError(CoreErrorCode.unsupportedOperation, `No ${effective} on "${path}"`);
    }
    return handler({ ...request, operation: effective });
  }

  /** `request(...).data`, asserted present. */
  async data(
    operation: Operation,
    path: string,
    data: RequestData = {},
  ): Promise<Record<string, unknown>> {
    const response = await this.request(operation, path, data);
    if (response.data === undefined) {
      throw new Error(`Expected data from ${operation} "${path}"`);
    }
    return { ...response.data };
  }

  /** Writes `data` at `data/<path>`; answers the new version number. */
  async put(path: string, data: Readonly<Record<string, unknown>>, cas?: number): Promise<number> {
    const response = await this.data('update', `data/${path}`, {
      data,
      ...(cas === undefined ? {} : { options: { cas } }),
    });
    return response['version'] as number;
  }

  /** The data of a version (undefined: the current one); null when deleted or destroyed. */
  async get(path: string, version?: number): Promise<unknown> {
    const response = await this.data(
      'read',
      `data/${path}`,
      version === undefined ? {} : { version },
    );
    return response['data'];
  }

  /** Every full storage key, sorted. */
  storageKeys(): string[] {
    return [...this.memory.entries().keys()].sort();
  }
}

/**
 * A view whose first `count` writes wait until all `count` have arrived, then apply in
 * arrival order; later writes pass straight through. Lines up "both read, then both write".
 */
export class WriteGate implements StorageView {
  readonly #inner: StorageView;
  #waiting: { batch: WriteBatch; resolve: (outcome: Promise<WriteOutcome>) => void }[] = [];
  #holdCount = 0;

  constructor(inner: StorageView) {
    this.#inner = inner;
  }

  /** Holds the next `count` writes. */
  hold(count: number): void {
    this.#holdCount = count;
  }

  get(key: string): Promise<Uint8Array | undefined> {
    return this.#inner.get(key);
  }

  getVersioned(key: string): ReturnType<StorageView['getVersioned']> {
    return this.#inner.getVersioned(key);
  }

  versionOf(key: string): Promise<number | undefined> {
    return this.#inner.versionOf(key);
  }

  list(
    prefix: string,
    options?: Parameters<StorageView['list']>[1],
  ): ReturnType<StorageView['list']> {
    return this.#inner.list(prefix, options);
  }

  sub(prefix: string): StorageView {
    return this.#inner.sub(prefix);
  }

  afterCommit(callback: () => void): void {
    this.#inner.afterCommit(callback);
  }

  write(batch: WriteBatch): Promise<WriteOutcome> {
    if (this.#holdCount === 0) {
      return this.#inner.write(batch);
    }
    return new Promise<WriteOutcome>((resolve) => {
      this.#waiting.push({
        batch,
        resolve: (outcome) => {
          resolve(outcome);
        },
      });
      if (this.#waiting.length === this.#holdCount) {
        const waiting = this.#waiting;
        this.#waiting = [];
        this.#holdCount = 0;
        for (const { batch: held, resolve: release } of waiting) {
          release(this.#inner.write(held));
        }
      }
    });
  }
}
