/**
 * Test support for the token store and the expiration manager: both over one
 * MemoryStorageView (token store at `auth/token/`, leases at `sys/expire/`), a ManualClock, a
 * fixed HMAC key for hashId, a scriptable secret backend and a recording logger. Tests only.
 */
import { createHmac } from 'node:crypto';

import { ManualClock } from '@coffer/raft/testing';

import type { MountInfo } from '../router/backend.ts';
import { MemoryStorageView } from '../router/memory_storage_view.ts';
import { parseJsonBytes } from '../router/storage_view.ts';
import { TokenStore } from '../token/token_store.ts';
import { ExpirationManager, type ExpirationManagerOptions } from './expiration_manager.ts';
import type { StoredLease } from './stored_lease.ts';

/** The wall-clock instant the ManualClock's 0 stands for. */
export const wallBaseMs = Date.UTC(2026, 0, 1);

/** A mount for tests. */
export function testMount(overrides: Partial<MountInfo> = {}): MountInfo {
  return {
    path: 'db/',
    type: 'database',
    uuid: 'mount-uuid-1',
    accessor: 'database_1234',
    defaultLeaseTtlSeconds: 3600,
    maxLeaseTtlSeconds: 86400,
    options: {},
    ...overrides,
  };
}

/** The token mount for tests. */
export const tokenMount = testMount({
  path: 'auth/token/',
  type: 'token',
  uuid: 'token-mount',
  accessor: 'auth_token_1',
  defaultLeaseTtlSeconds: 0,
  maxLeaseTtlSeconds: 0,
});

/** Log lines a test can inspect. */
export interface LoggedEvent {
  readonly level: 'info' | 'warn';
  readonly event: string;
  readonly fields: Record<string, string | number | boolean>;
}

/** A harness: one state, a clock, a manager and a token store. */
export interface Harness {
  readonly root: MemoryStorageView;
  readonly clock: ManualClock;
  readonly wall: () => number;
  readonly leases: ExpirationManager;
  readonly tokens: TokenStore;
  /** Lease ids whose secret the backend revoked, in order. */
  readonly revokedSecrets: string[];
  /** Attempts per lease id (failed ones included). */
  readonly attempts: Map<string, number>;
  readonly logged: LoggedEvent[];
  /** Makes the backend fail (true) or succeed (false) for lease ids matching. */
  failing: (leaseId: string) => boolean;
  /** A new manager over the same state (a restart or failover). */
  newManager(options?: Partial<ExpirationManagerOptions>): ExpirationManager;
  /** The stored lease of an id (raw), or undefined. */
  storedLease(leaseId: string): StoredLease | undefined;
}

/** A fixed-key HMAC: the test stand-in of the barrier's token identifier hash. */
export function testHashId(id: string): string {
  return createHmac('sha256', 'test-identifier-key').update(id).digest('base64url');
}

/** Builds a harness; `options` go to the first manager. */
export function makeHarness(options: Partial<ExpirationManagerOptions> = {}): Harness {
  const root = new MemoryStorageView();
  const clock = new ManualClock();
  const wall = (): number => wallBaseMs + clock.nowMs();
  const revokedSecrets: string[] = [];
  const attempts = new Map<string, number>();
  const logged: LoggedEvent[] = [];
  const ref: { tokens?: TokenStore } = {};
  const newManager = (extra: Partial<ExpirationManagerOptions> = {}): ExpirationManager =>
    new ExpirationManager({
      storage: root.sub('sys/expire/'),
      clock,
      wallClockMs: wall,
      revokeSecret: (lease) => {
        attempts.set(lease.leaseId, (attempts.get(lease.leaseId) ?? 0) + 1);
        if (harness.failing(lease.leaseId)) {
          return Promise.reject(Object.assign(new Error('backend down'), { code: 'TEST_DOWN' }));
        }
        revokedSecrets.push(lease.leaseId);
        return Promise.resolve();
      },
      revokeToken: (key) => ref.tokens?.revokeByKey(key, wall()) ?? Promise.resolve(),
      tokenExists: (key) => ref.tokens?.exists(key) ?? Promise.resolve(true),
      logger: {
        info: (event, fields) => logged.push({ level: 'info', event, fields }),
        warn: (event, fields) => logged.push({ level: 'warn', event, fields }),
      },
      retry: { random: () => 0.5 },
      revocationRate: { perSecond: Number.POSITIVE_INFINITY, concurrency: 8 },
      ...options,
      ...extra,
    });
  const leases = newManager();
  const tokens = new TokenStore({
    storage: root.sub('auth/token/'),
    hashId: testHashId,
    leases,
    defaults: { defaultTtlSeconds: 3600, maxTtlSeconds: 7 * 86400 },
  });
  ref.tokens = tokens;
  const harness: Harness = {
    root,
    clock,
    wall,
    leases,
    tokens,
    revokedSecrets,
    attempts,
    logged,
    failing: () => false,
    newManager,
    storedLease: (leaseId) => {
      const value = root.entries().get(`sys/expire/id/${leaseId}`)?.value;
      return value === undefined ? undefined : parseJsonBytes<StoredLease>(value);
    },
  };
  return harness;
}

/** Lets every pending promise chain run (MemoryStorageView resolves at once). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) {
    await new Promise<void>((resolve) => {
      setImmediate(resolve);
    });
  }
}
