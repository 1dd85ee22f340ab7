/**
 * SecureStore: the core's view of the replicated state, through the barrier. A write is
 * encrypted for its path on the active node, then proposed, so the Raft log on disk holds only
 * ciphertext; a read waits for a linearizable read point (ReadIndex), then decrypts what this
 * node applied. Keyring changes (the first keyring, encryption reservations, rotations) are
 * check-and-set writes of the sealed keyring, applied by CoreStateMachine on every replica.
 *
 * Runs on the active (leader) node; a standby refuses writes with COFFER_CORE_NOT_ACTIVE
 * (forwarding to the active node comes with the cluster). Every write goes through this node's
 * client session (session_client.ts), so a write resent after a timeout or a leader change is
 * applied once and answered with its original result.
 */
import type { RaftNode } from '@coffer/raft/node';
import {
  ApplyOutcome,
  type ApplyResult,
  type LevelStateStore,
  type ListOptions,
  listLimitDefault,
  listLimitMax,
  type ListPage,
  type StateCommand,
  type StateCondition,
  type StateOperation,
  StorageErrorCode,
} from '@coffer/storage';

import type { Barrier } from '../barrier/barrier.ts';
import type { KeyringChange } from '../barrier/keyring_change.ts';
import { initializeKeyring } from '../barrier/keyring_change.ts';
import type { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import { SessionClient } from './session_client.ts';
import { StagedWrites } from './staged_writes.ts';
import { keyringPath } from './system_paths.ts';

/**
 * Unseals a node's barrier with rootKey and the keyring its state holds. A node unseals before
 * it starts Raft: restoring a state snapshot needs the snapshot HMAC key, which only an
 * unsealed barrier can derive. The barrier takes ownership of rootKey.
 */
export function unsealFromState(
  state: { readonly store: LevelStateStore; readonly barrier: Barrier },
  rootKey: SecretKey,
): void {
  const keyring = state.store.get(keyringPath);
  if (keyring === undefined) {
    rootKey.zero();
    throw new CoreError(
      CoreErrorCode.notInitialized,
      'Cannot unseal: this node holds no keyring yet. Initialize the cluster, or wait until this node has caught up with it',
    );
  }
  state.barrier.unseal(rootKey, keyring.value);
}

function refused(what: string, message: string): CoreError {
  return new CoreError(
    CoreErrorCode.writeRefused,
    `Cannot ${what}: the replicated state refused it (${message})`,
  );
}

/**
 * Client sessions per node. Each holds at most 48 writes in flight (the state keeps 64
 * responses per client), so 8 carry 384 concurrent writes before any waits; each registers
 * lazily, on its first write.
 */
const sessionsPerNode = 8;

/** What a SecureStore works with. */
export interface SecureStoreOptions {
  readonly node: RaftNode;
  readonly store: LevelStateStore;
  readonly barrier: Barrier;
  /** Wall-clock time in ms since the epoch, for keyring install times and rotation intervals. */
  readonly nowMs: () => number;
}

/**
 * One ReadIndex round: `done` resolves once this node has applied up to the read index (and
 * rejects NOT_ACTIVE when the round fails); `answered` resolves as soon as the leader gave the
 * index, and never when it did not.
 */
export interface ReadRound {
  readonly done: Promise<void>;
  readonly answered: Promise<void>;
}

/** The replicated, encrypted key-value state of one node. */
export class SecureStore {
  readonly #options: SecureStoreOptions;
  /** Client sessions: each keeps at most 48 writes in flight, so several carry a busy node. */
  readonly #sessions: readonly SessionClient[];
  /** The ReadIndex round in flight, and the one that starts after it (readPoint). */
  #readRound: ReadRound | undefined;
  #nextReadRound: ReadRound | undefined;
  /** The keyring change in flight, so concurrent writers share one. */
  #keyringChange: Promise<void> | undefined;

  constructor(options: SecureStoreOptions) {
    this.#options = options;
    this.#sessions = Array.from(
      { length: sessionsPerNode },
      () => new SessionClient({ node: options.node, nowMs: options.nowMs }),
    );
  }

  /**
   * Creates the cluster's first keyring under rootKey, unseals the barrier with it and stores
   * it. Runs once per cluster, on the node that bootstraps it. The barrier takes ownership of
   * rootKey.
   */
  async initialize(rootKey: SecretKey): Promise<void> {
    const { barrier } = this.#options;
    const sealed = initializeKeyring(rootKey, { nowMs: this.#options.nowMs() });
    barrier.unseal(rootKey, sealed);
    await this.#propose(
      {
        kind: 'transaction',
        conditions: [{ kind: 'absent', key: keyringPath }],
        operations: [{ kind: 'put', key: keyringPath, value: sealed }],
      },
      'store the first keyring',
    );
  }

  /** Encrypts value for path and writes it through Raft. */
  async put(path: string, value: Uint8Array): Promise<void> {
    await this.#prepareToEncrypt();
    const ciphertext = this.#options.barrier.encrypt(path, value);
    await this.#propose({ kind: 'put', key: path, value: ciphertext }, `write "${path}"`);
  }

  /** Deletes path through Raft. */
  async delete(path: string): Promise<void> {
    await this.#propose({ kind: 'delete', key: path }, `delete "${path}"`);
  }

  /** The plaintext at path as of a linearizable read point, or undefined. */
  async get(path: string): Promise<Uint8Array | undefined> {
    await this.#readPoint(`read "${path}"`);
    return this.getLocal(path)?.value;
  }

  /** A page of the paths under prefix, as of a linearizable read point. */
  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    await this.#readPoint(`list "${prefix}"`);
    return this.#options.store.list(prefix, options);
  }

  /**
   * Waits for a linearizable read point: every write acknowledged before this call is applied
   * here when it resolves. The router takes one per request, then reads locally.
   */
  readPoint(): Promise<void> {
    return this.readRound().done;
  }

  /** The read point of {@link readPoint} as its round: also tells when the leader answered. */
  readRound(): ReadRound {
    // Reads share ReadIndex rounds (etcd's linearizable read loop does the same): a caller
    // joins the round that starts after it arrived, never one already in flight, whose index
    // could predate a write acknowledged before this call.
    if (this.#readRound === undefined) {
      this.#readRound = this.#startReadRound();
      return this.#readRound;
    }
    this.#nextReadRound ??= this.#roundAfter(this.#readRound);
    return this.#nextReadRound;
  }

  /** The round that starts when current ends. */
  #roundAfter(current: ReadRound): ReadRound {
    let markAnswered: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => {
      markAnswered = resolve;
    });
    const promote = (): Promise<void> => {
      this.#nextReadRound = undefined;
      const round = this.#startReadRound();
      this.#readRound = round;
      void round.answered.then(markAnswered);
      return round.done;
    };
    return { done: current.done.then(promote, promote), answered };
  }

  #startReadRound(): ReadRound {
    let markAnswered: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => {
      markAnswered = resolve;
    });
    const done: Promise<void> = this.#readPoint('serve the request', markAnswered).finally(() => {
      if (this.#readRound?.done === done) {
        this.#readRound = undefined;
      }
    });
    return { done, answered };
  }

  /** The Raft index of the last entry this node applied to its state. */
  appliedIndex(): number {
    return this.#options.store.appliedIndex();
  }

  /**
   * The plaintext at path as this node applied it (after a read point), with its version; a
   * request sees its own staged writes first (staged_writes.ts).
   */
  getLocal(path: string): { readonly value: Uint8Array; readonly version: number } | undefined {
    const staged = StagedWrites.current()?.read(path);
    if (staged?.staged === true) {
      return staged.value === undefined ? undefined : staged;
    }
    const stored = this.#options.store.get(path);
    return stored === undefined
      ? undefined
      : { value: this.#options.barrier.decrypt(path, stored.value), version: stored.version };
  }

  /** The version of path as this node applied it, without decrypting; undefined when absent. */
  versionLocal(path: string): number | undefined {
    const staged = StagedWrites.current()?.read(path);
    return staged?.staged === true ? staged.version : this.#options.store.versionOf(path);
  }

  /** A page of the paths under prefix as this node applied them (after a read point). */
  listLocal(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const staged = StagedWrites.current()?.keysUnder(prefix, options.after);
    return staged === undefined || staged.length === 0
      ? this.#options.store.list(prefix, options)
      : this.#listWithStaged(prefix, options, staged);
  }

  /** A page of the applied keys under prefix with a request's staged puts and deletes merged in. */
  async #listWithStaged(
    prefix: string,
    options: ListOptions,
    staged: readonly { readonly key: string; readonly put: boolean }[],
  ): Promise<ListPage> {
    const limit = options.limit ?? listLimitDefault;
    const deleted = new Set(staged.filter((s) => !s.put).map((s) => s.key));
    // NB: ask for as many more as the request deleted, so the page still fills when it can.
    const base = await this.#options.store.list(prefix, {
      ...options,
      limit: Math.min(limit + deleted.size, listLimitMax),
    });
    const lastBase = base.keys.at(-1);
    const merged = new Set(base.keys.filter((key) => !deleted.has(key)));
    for (const { key, put } of staged) {
      // NB: past the base page's end only when the base has no more pages.
      if (put && (base.cursor === undefined || lastBase === undefined || key <= lastBase)) {
        merged.add(key);
      }
    }
    const keys = [...merged].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (keys.length > limit) {
      const page = keys.slice(0, limit);
      return { keys: page, cursor: page.at(-1) };
    }
    return { keys, cursor: base.cursor === undefined ? undefined : (keys.at(-1) ?? base.cursor) };
  }

  /**
   * Encrypts every put for its path and proposes the batch as one transaction: applied
   * atomically when every condition holds, else nothing changes and the failed condition is
   * returned. Values and conditions are fixed here, on the active node, before the proposal.
   */
  async write(batch: {
    readonly conditions: readonly StateCondition[];
    readonly operations: readonly StateOperation[];
  }): Promise<
    | { readonly ok: true }
    | { readonly ok: false; readonly key: string; readonly actualVersion: number | undefined }
  > {
    const staged = StagedWrites.current();
    if (staged !== undefined) {
      if (staged.fits(batch.operations)) {
        return staged.stage(batch, (key) => this.#options.store.versionOf(key));
      }
      // The request outgrew staging: what it staged goes now, and the rest goes through.
      staged.giveUp();
      const flushed = await this.write(staged.transaction());
      if (!flushed.ok) {
        throw new CoreError(
          CoreErrorCode.writeRefused,
          'Retry the request: a concurrent request changed what it had read',
        );
      }
      staged.committed();
    }
    await this.#prepareToEncrypt();
    const { barrier } = this.#options;
    const operations = batch.operations.map((operation): StateOperation =>
      operation.kind === 'put'
        ? {
            kind: 'put',
            key: operation.key,
            value: barrier.encrypt(operation.key, operation.value),
          }
        : operation,
    );
    const what = `write ${operations.length} key${operations.length === 1 ? '' : 's'}`;
    const result = await this.#proposeConditional(
      { kind: 'transaction', conditions: batch.conditions, operations },
      what,
    );
    return result.ok ? result : { ok: false, key: result.key, actualVersion: result.actualVersion };
  }

  /** Runs callback once the writes made so far are committed (at once unless staged). */
  afterCommit(callback: () => void): void {
    const staged = StagedWrites.current();
    if (staged === undefined) {
      callback();
    } else {
      staged.afterCommit(callback);
    }
  }

  /** Rotates the keyring to a new term now (new writes use it; old terms keep decrypting). */
  rotate(): Promise<void> {
    return this.#changeKeyring(() => this.#options.barrier.prepareRotation(this.#options.nowMs()));
  }

  /** Makes sure the barrier may encrypt: rotates when due, reserves encryptions when low. */
  async #prepareToEncrypt(): Promise<void> {
    const { barrier } = this.#options;
    if (barrier.isRotationDue(this.#options.nowMs())) {
      await this.rotate();
    }
    if (barrier.needsReservation()) {
      await this.#changeKeyring(() => barrier.prepareReservation());
    }
  }

  /** Proposes one keyring change at a time: a check-and-set of the stored sealed keyring. */
  #changeKeyring(prepare: () => KeyringChange): Promise<void> {
    const running = (this.#keyringChange ??= (async () => {
      try {
        const current = this.#options.store.get(keyringPath);
        if (current === undefined) {
          throw new CoreError(
            CoreErrorCode.notInitialized,
            'Cannot change the keyring: none is stored. Initialize the cluster first',
          );
        }
        const change = prepare();
        await this.#propose(
          {
            kind: 'transaction',
            conditions: [{ kind: 'version', key: keyringPath, version: current.version }],
            operations: [{ kind: 'put', key: keyringPath, value: change.bytes }],
          },
          `apply a keyring ${change.kind}`,
        );
      } finally {
        this.#keyringChange = undefined;
      }
    })());
    return running;
  }

  #leastBusySession(): SessionClient {
    let best = this.#sessions[0];
    for (const session of this.#sessions) {
      if (best === undefined || session.load < best.load) {
        best = session;
      }
    }
    if (best === undefined) {
      throw new Error('unreachable: a SecureStore has at least one session');
    }
    return best;
  }

  async #readPoint(what: string, onIndex?: () => void): Promise<void> {
    const result = await this.#options.node.readBarrier(onIndex === undefined ? {} : { onIndex });
    if (!result.ok) {
      throw new CoreError(CoreErrorCode.notActive, `Cannot ${what}: ${result.message}`);
    }
  }

  /** Proposes command; every refusal, a failed condition included, throws WRITE_REFUSED. */
  async #propose(command: StateCommand, what: string): Promise<void> {
    const result = await this.#proposeConditional(command, what);
    if (!result.ok) {
      throw refused(what, result.message);
    }
  }

  /** Proposes command; a failed condition is returned, every other refusal throws. */
  async #proposeConditional(
    command: StateCommand,
    what: string,
  ): Promise<
    { readonly ok: true } | Extract<ApplyResult, { code: typeof StorageErrorCode.casFailed }>
  > {
    const result = await this.#leastBusySession().propose(command, what);
    if (!result.ok) {
      if (result.code === StorageErrorCode.casFailed) {
        return result;
      }
      throw refused(what, result.message);
    }
    if (result.outcome !== ApplyOutcome.applied) {
      throw new CoreError(
        CoreErrorCode.writeRefused,
        `Cannot ${what}: the entry was not applied (${result.outcome})`,
      );
    }
    return { ok: true };
  }
}
