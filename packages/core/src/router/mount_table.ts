/**
 * The mount table: which secrets engine or auth method serves which path prefix. Secrets
 * engines mount anywhere outside `sys/` and `auth/`; auth methods mount under `auth/`. Each
 * mount stores under its own random prefix (`logical/<uuid>/`), so disabling a mount and
 * enabling the same path again starts empty, and no mount can reach another's keys.
 *
 * The table is one replicated value (`core/mounts`), changed by check-and-set, and cached here
 * by its version: a request costs one version lookup, not a decrypt.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Backend, BackendFactory, MountInfo } from './backend.ts';
import { compileRoute, type CompiledRoute } from './route_match.ts';
import { jsonBytes, parseJsonBytes, type StorageView } from './storage_view.ts';

/** Where the table lives in the replicated state. */
export const mountTableKey = 'core/mounts';

/** Where a mount's data lives: `logical/<uuid>/`. */
export function mountDataPrefix(uuid: string): string {
  return `logical/${uuid}/`;
}

/** One stored mount. */
export interface MountEntry {
  readonly path: string;
  readonly type: string;
  readonly uuid: string;
  readonly accessor: string;
  readonly description: string;
  readonly defaultLeaseTtlSeconds: number;
  readonly maxLeaseTtlSeconds: number;
  readonly options: Readonly<Record<string, string>>;
}

/** The system TTLs, Vault's defaults: 768 hours each. */
export interface SystemTtls {
  readonly defaultLeaseTtlSeconds: number;
  readonly maxLeaseTtlSeconds: number;
}

/** Vault's system default and maximum lease TTL: 32 days. */
export const systemTtlsDefault: SystemTtls = {
  defaultLeaseTtlSeconds: 768 * 3600,
  maxLeaseTtlSeconds: 768 * 3600,
};

/** A live mount: its entry, effective settings, backend and compiled routes. */
export interface LiveMount {
  readonly entry: MountEntry;
  readonly info: MountInfo;
  readonly backend: Backend;
  readonly routes: readonly CompiledRoute<undefined>[];
  readonly storage: StorageView;
}

const mountPathPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*\/$/;

/** Normalizes a mount path to `a/b/` and checks its characters. */
export function normalizeMountPath(raw: string): string {
  const path = raw.replace(/^\/+/, '').replace(/\/*$/, '/');
  if (!mountPathPattern.test(path) || path.length > 256) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Choose a mount path of letters, digits, ".", "_" and "-" segments (at most 256 characters)',
    );
  }
  return path;
}

/** The refusal for a mount path with nothing mounted at it. */
export function notMounted(path: string): CoreError {
  return new CoreError(CoreErrorCode.notFound, `Check the path: nothing is mounted at "${path}"`);
}

/** The mounts of one node, over the replicated state's root view. */
export class MountTable {
  readonly #root: StorageView;
  readonly #factories: Readonly<Record<string, BackendFactory>>;
  readonly #system: SystemTtls;
  /** Mounts that exist whatever the table says (sys/, auth/token/), by path. */
  readonly #builtins: readonly LiveMount[];
  #version: number | undefined = -1;
  #mounts: readonly LiveMount[] = [];

  constructor(options: {
    readonly root: StorageView;
    readonly factories: Readonly<Record<string, BackendFactory>>;
    readonly system: SystemTtls;
    readonly builtins: readonly LiveMount[];
  }) {
    this.#root = options.root;
    this.#factories = options.factories;
    this.#system = options.system;
    this.#builtins = options.builtins;
  }

  /** The effective MountInfo of an entry (its tune, else the system TTLs). */
  infoOf(entry: MountEntry): MountInfo {
    return {
      path: entry.path,
      type: entry.type,
      uuid: entry.uuid,
      accessor: entry.accessor,
      // NB: a mount's tune may lower the system's TTLs, never raise them (Vault's rule).
      defaultLeaseTtlSeconds: Math.min(
        entry.defaultLeaseTtlSeconds || this.#system.defaultLeaseTtlSeconds,
        this.#system.maxLeaseTtlSeconds,
      ),
      maxLeaseTtlSeconds: Math.min(
        entry.maxLeaseTtlSeconds || this.#system.maxLeaseTtlSeconds,
        this.#system.maxLeaseTtlSeconds,
      ),
      options: entry.options,
    };
  }

  /** Makes a live mount of a builtin backend (sys/, auth/token/) over its own storage. */
  static builtin(mount: {
    readonly entry: MountEntry;
    readonly backend: Backend;
    readonly storage: StorageView;
    readonly info: MountInfo;
  }): LiveMount {
    const { entry, backend, storage, info } = mount;
    return {
      entry,
      info,
      backend,
      storage,
      routes: backend.routes.map((route) => compileRoute(route, undefined)),
    };
  }

  /** Whether `path` is a builtin mount (sys/, auth/token/), which can be neither removed nor replaced. */
  isBuiltin(path: string): boolean {
    return this.#builtins.some((mount) => mount.entry.path === path);
  }

  /** Every mount, builtins first; reloads the table when its stored version changed. */
  async mounts(): Promise<readonly LiveMount[]> {
    const version = await this.#root.versionOf(mountTableKey);
    if (version !== this.#version) {
      const entries = await this.#entries();
      const previous = new Map(this.#mounts.map((m) => [m.entry.uuid, m]));
      this.#mounts = entries.map((entry) => {
        const kept = previous.get(entry.uuid);
        return kept !== undefined && sameEntry(kept.entry, entry) ? kept : this.#live(entry);
      });
      this.#version = version;
    }
    return [...this.#builtins, ...this.#mounts];
  }

  /** The mount serving `path` (longest prefix), and the path relative to it. */
  async find(
    path: string,
  ): Promise<{ readonly mount: LiveMount; readonly relative: string } | undefined> {
    const withSlash = `${path}/`;
    let best: LiveMount | undefined;
    for (const mount of await this.mounts()) {
      if (
        withSlash.startsWith(mount.entry.path) &&
        (best === undefined || mount.entry.path.length > best.entry.path.length)
      ) {
        best = mount;
      }
    }
    if (best === undefined) {
      return undefined;
    }
    return { mount: best, relative: withSlash.slice(best.entry.path.length).replace(/\/$/, '') };
  }

  /** Mounts a new backend at path; refuses taken, overlapping and reserved paths. */
  async enable(input: {
    readonly path: string;
    readonly type: string;
    readonly description: string;
    readonly defaultLeaseTtlSeconds: number;
    readonly maxLeaseTtlSeconds: number;
    readonly options: Readonly<Record<string, string>>;
  }): Promise<MountEntry> {
    if (!Object.hasOwn(this.#factories, input.type)) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Choose a known type: "${input.type.slice(0, 64)}" is not one (${Object.keys(this.#factories).join(', ')})`,
      );
    }
    const entry: MountEntry = {
      ...input,
      uuid: randomUUID(),
      accessor: `${input.type}_${randomBytes(4).toString('hex')}`,
    };
    this.#checkTtls(entry);
    // NB: build it once, so a backend that refuses its options refuses before anything is stored.
    this.#live(entry);
    await this.#change((entries) => {
      const taken = [...this.#builtins.map((m) => m.entry), ...entries].find(
        (m) => m.path.startsWith(entry.path) || entry.path.startsWith(m.path),
      );
      if (taken !== undefined) {
        throw new CoreError(
          CoreErrorCode.mountConflict,
          `Choose another path: "${entry.path}" overlaps the mount at "${taken.path}"`,
        );
      }
      return [...entries, entry];
    });
    return entry;
  }

  /** Removes the mount at path from the table and returns it (the caller revokes and deletes). */
  async remove(path: string): Promise<MountEntry> {
    let removed: MountEntry | undefined;
    await this.#change((entries) => {
      removed = entries.find((m) => m.path === path);
      if (removed === undefined) {
        throw notMounted(path);
      }
      return entries.filter((m) => m !== removed);
    });
    if (removed === undefined) {
      throw new Error('unreachable: remove() found no mount after the change applied');
    }
    return removed;
  }

  /** Changes the tune (TTLs, description) of the mount at path. */
  async tune(
    path: string,
    change: {
      readonly defaultLeaseTtlSeconds?: number;
      readonly maxLeaseTtlSeconds?: number;
      readonly description?: string;
    },
  ): Promise<void> {
    await this.#change((entries) => {
      const found = entries.find((m) => m.path === path);
      if (found === undefined) {
        throw notMounted(path);
      }
      const tuned = { ...found, ...change };
      // NB: only a tune that sets a TTL is checked: a mount stored by an older version may hold
      // TTLs this check refuses, and tuning its description alone must still work.
      if (change.defaultLeaseTtlSeconds !== undefined || change.maxLeaseTtlSeconds !== undefined) {
        this.#checkTtls(tuned);
      }
      return entries.map((m) => (m === found ? tuned : m));
    });
  }

  /**
   * Refuses TTLs that the mount could not keep: above the server's maximum (a mount may lower
   * it, never raise it, so it would be clamped behind a "success"), or a default above the max
   * in force (whether both came in this request or the max in an earlier one). 0 means the
   * server's value.
   */
  #checkTtls(entry: MountEntry): void {
    const systemMax = this.#system.maxLeaseTtlSeconds;
    for (const [name, seconds] of [
      ['default_lease_ttl', entry.defaultLeaseTtlSeconds],
      ['max_lease_ttl', entry.maxLeaseTtlSeconds],
    ] as const) {
      if (seconds > systemMax) {
        throw new CoreError(
          CoreErrorCode.invalidRequest,
          `Set ${name} at most ${describeSeconds(systemMax)}, the server's maximum lease TTL: ` +
            'a mount may lower it, not raise it',
        );
      }
    }
    const max = entry.maxLeaseTtlSeconds || systemMax;
    if (entry.defaultLeaseTtlSeconds > max) {
      throw new CoreError(
        CoreErrorCode.invalidRequest,
        `Set default_lease_ttl at most max_lease_ttl (${describeSeconds(max)} on "${entry.path}")`,
      );
    }
  }

  /** A live mount by uuid (lease revocation finds the backend of a lease this way). */
  async byUuid(uuid: string): Promise<LiveMount | undefined> {
    return (await this.mounts()).find((m) => m.entry.uuid === uuid);
  }

  #live(entry: MountEntry): LiveMount {
    const factory = this.#factories[entry.type];
    if (factory === undefined) {
      throw new CoreError(
        CoreErrorCode.internal,
        `Mount "${entry.path}" has unknown type "${entry.type}"`,
      );
    }
    const info = this.infoOf(entry);
    const backend = factory(info);
    return {
      entry,
      info,
      backend,
      storage: this.#root.sub(mountDataPrefix(entry.uuid)),
      routes: backend.routes.map((route) => compileRoute(route, undefined)),
    };
  }

  async #entries(): Promise<readonly MountEntry[]> {
    const bytes = await this.#root.get(mountTableKey);
    return bytes === undefined ? [] : parseJsonBytes<MountEntry[]>(bytes);
  }

  /** Applies change to the stored table by check-and-set, retrying a lost race a few times. */
  async #change(change: (entries: readonly MountEntry[]) => readonly MountEntry[]): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.#root.getVersioned(mountTableKey);
      const entries = current === undefined ? [] : parseJsonBytes<MountEntry[]>(current.value);
      const next = change(entries);
      const outcome = await this.#root.write({
        conditions: [
          current === undefined
            ? { kind: 'absent', key: mountTableKey }
            : { kind: 'version', key: mountTableKey, version: current.version },
        ],
        operations: [{ kind: 'put', key: mountTableKey, value: jsonBytes(next) }],
      });
      if (outcome.ok) {
        return;
      }
    }
    throw new CoreError(
      CoreErrorCode.writeRefused,
      'Retry the mount change: the mount table kept changing while it was applied',
    );
  }
}

function sameEntry(a: MountEntry, b: MountEntry): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A TTL as an operator writes it: whole hours as `768h`, else seconds as `90s`. */
function describeSeconds(seconds: number): string {
  return seconds % 3600 === 0 ? `${String(seconds / 3600)}h` : `${String(seconds)}s`;
}
