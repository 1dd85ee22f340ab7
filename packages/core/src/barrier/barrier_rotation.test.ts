/**
 * Goal: keyring changes behave as replicated entries. Every replica that applies the same log
 * ends with the same keyring; data written under three terms reads back after two rotations; a
 * term still referenced is never dropped; only the proposer of a reservation may spend it; the
 * cluster-wide encryption count never under-counts across restarts and leader changes; rotation
 * falls due by count and by interval.
 * Method: an in-memory "cluster" of Barriers sharing one root key, an array as the Raft log and a
 * Map as the replicated store (path → ciphertext). Time is a number the test advances (a fake
 * clock); nothing sleeps.
 */
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../errors.ts';
import { Barrier, type BarrierOptions } from './barrier.ts';
import { readCiphertextHeader } from './ciphertext_format.ts';
import { initializeKeyring } from './keyring_change.ts';
import type { KeyringChangeOutcome } from './keyring_transition.ts';
import { SecretKey } from './secret_key.ts';

type LogEntry =
  | { readonly kind: 'keyring'; readonly bytes: Uint8Array }
  | { readonly kind: 'put'; readonly path: string; readonly ciphertext: Uint8Array };

/** Replicas applying one log in order, with a replicated store for term references. */
class Cluster {
  readonly rootKey = SecretKey.generate();
  readonly replicas: Barrier[];
  readonly store = new Map<string, Uint8Array>();
  readonly outcomes: KeyringChangeOutcome[] = [];
  readonly #log: LogEntry[] = [];
  #applied = 0;
  #storedKeyring: Uint8Array;

  constructor(size: number, options: BarrierOptions = {}) {
    this.#storedKeyring = initializeKeyring(this.rootKey, { nowMs: 0 });
    this.replicas = Array.from({ length: size }, () => this.#startReplica(options));
  }

  /** The replica at `index`; the test asserts it exists. */
  node(index: number): Barrier {
    const replica = this.replicas[index];
    if (replica === undefined) {
      throw new Error(`no replica ${index}`);
    }
    return replica;
  }

  propose(entry: LogEntry): void {
    this.#log.push(entry);
  }

  /** Applies every new entry on every replica, like each node's state machine would. */
  applyAll(): void {
    for (const entry of this.#log.slice(this.#applied)) {
      if (entry.kind === 'put') {
        this.store.set(entry.path, entry.ciphertext);
        continue;
      }
      const results = this.replicas.map((replica) =>
        replica.applyKeyringChange(entry.bytes, { isTermReferenced: (t) => this.#referenced(t) }),
      );
      expect(new Set(results.map((result) => JSON.stringify(result))).size).toBe(1);
      const [outcome] = results;
      if (outcome?.applied === true) {
        this.#storedKeyring = entry.bytes;
      }
      this.outcomes.push(
        outcome ?? { applied: false, code: 'COFFER_CORE_SEALED' as never, reason: '' },
      );
    }
    this.#applied = this.#log.length;
  }

  /** Proposes and applies a value written on `index` (the active node). */
  write(index: number, path: string, plaintext: string): void {
    const ciphertext = this.node(index).encrypt(path, Buffer.from(plaintext));
    this.propose({ kind: 'put', path, ciphertext });
    this.applyAll();
  }

  /** Reserves on `index` and applies it everywhere. */
  reserve(index: number): void {
    this.propose({ kind: 'keyring', bytes: this.node(index).prepareReservation().bytes });
    this.applyAll();
  }

  rotate(index: number, nowMs: number): void {
    this.propose({ kind: 'keyring', bytes: this.node(index).prepareRotation(nowMs).bytes });
    this.applyAll();
  }

  /** Restarts replica `index` from the stored keyring, as after a crash. */
  restart(index: number, options: BarrierOptions = {}): Barrier {
    this.node(index).seal();
    const replica = this.#startReplica(options);
    this.replicas[index] = replica;
    return replica;
  }

  read(index: number, path: string): string {
    const ciphertext = this.store.get(path);
    if (ciphertext === undefined) {
      throw new Error(`nothing stored at ${path}`);
    }
    return Buffer.from(this.node(index).decrypt(path, ciphertext)).toString();
  }

  #referenced(term: number): boolean {
    for (const [path, ciphertext] of this.store) {
      if (readCiphertextHeader(path, ciphertext).term === term) {
        return true;
      }
    }
    return false;
  }

  #startReplica(options: BarrierOptions): Barrier {
    const replica = new Barrier(options);
    replica.unseal(this.rootKey.clone(), this.#storedKeyring);
    return replica;
  }
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as { code?: string }).code ?? 'no code';
  }
  return 'returned a value';
}

describe('Barrier keyring changes', () => {
  it('Barrier reads data written under three terms after two rotations, on every replica', () => {
    const cluster = new Cluster(3);
    cluster.reserve(0);
    cluster.write(0, 'secret/one', 'written under term 1');
    cluster.rotate(0, 1_000);
    cluster.write(0, 'secret/two', 'written under term 2');
    cluster.rotate(0, 2_000);
    cluster.write(0, 'secret/three', 'written under term 3');
    for (let index = 0; index < 3; index++) {
      expect(cluster.read(index, 'secret/one')).toBe('written under term 1');
      expect(cluster.read(index, 'secret/two')).toBe('written under term 2');
      expect(cluster.read(index, 'secret/three')).toBe('written under term 3');
    }
    const terms = [...cluster.store].map(([path, c]) => readCiphertextHeader(path, c).term);
    expect(terms).toEqual([1, 2, 3]);
    expect(cluster.node(2).keyringStatus()).toMatchObject({ term: 3, installTimeMs: 2_000 });
  });

  it('Barrier replicas that apply the same log hold identical keyrings', () => {
    const cluster = new Cluster(3);
    cluster.reserve(0);
    cluster.rotate(1, 500);
    cluster.reserve(2);
    const [first, ...others] = cluster.replicas.map((replica) => replica.sealedKeyring());
    for (const other of others) {
      expect(Buffer.from(other).equals(Buffer.from(first ?? []))).toBe(true);
    }
    const statuses = cluster.replicas.map((replica) => JSON.stringify(replica.keyringStatus()));
    expect(new Set(statuses).size).toBe(1);
  });

  it('Barrier refuses to drop a term that stored values still reference', () => {
    const cluster = new Cluster(2);
    cluster.reserve(0);
    cluster.write(0, 'secret/old', 'old value');
    cluster.rotate(0, 1_000);
    const leader = cluster.node(0);
    expect(codeOf(() => leader.prepareTermDrop(1, () => true))).toBe(
      CoreErrorCode.barrierTermInUse,
    );
    expect(codeOf(() => leader.prepareTermDrop(2, () => false))).toBe(
      CoreErrorCode.barrierTermInUse,
    );
    expect(codeOf(() => leader.prepareTermDrop(7, () => false))).toBe(
      CoreErrorCode.barrierUnknownTerm,
    );
    // A drop prepared on a wrong answer is still refused where it applies, on every replica.
    cluster.propose({ kind: 'keyring', bytes: leader.prepareTermDrop(1, () => false).bytes });
    cluster.applyAll();
    expect(cluster.outcomes.at(-1)).toMatchObject({
      applied: false,
      code: CoreErrorCode.barrierTermInUse,
    });
    expect(cluster.read(1, 'secret/old')).toBe('old value');
  });

  it('Barrier refuses a drop when a value under that term applies before it', () => {
    const cluster = new Cluster(2);
    cluster.reserve(0);
    const leader = cluster.node(0);
    // Encrypted under term 1, still in flight when the rotation and the drop are proposed.
    const inFlight = leader.encrypt('secret/late', Buffer.from('late value'));
    cluster.rotate(0, 1_000);
    // The store holds no term-1 value yet, so the drop is prepared.
    const drop = leader.prepareTermDrop(1, () => false);
    cluster.propose({ kind: 'put', path: 'secret/late', ciphertext: inFlight });
    cluster.propose({ kind: 'keyring', bytes: drop.bytes });
    cluster.applyAll();
    expect(cluster.outcomes.at(-1)).toMatchObject({ code: CoreErrorCode.barrierTermInUse });
    expect(cluster.read(1, 'secret/late')).toBe('late value');
  });

  it('Barrier drops an unreferenced term, after which its values no longer decrypt', () => {
    const cluster = new Cluster(2);
    cluster.reserve(0);
    cluster.write(0, 'secret/a', 'first');
    const oldCiphertext = cluster.store.get('secret/a') ?? new Uint8Array();
    cluster.rotate(0, 1_000);
    cluster.write(0, 'secret/a', 'rewritten under term 2');
    const leader = cluster.node(0);
    cluster.propose({ kind: 'keyring', bytes: leader.prepareTermDrop(1, () => false).bytes });
    cluster.applyAll();
    expect(cluster.outcomes.at(-1)).toMatchObject({ applied: true, droppedTerms: [1] });
    expect(
      cluster
        .node(1)
        .keyringStatus()
        .terms.map((t) => t.term),
    ).toEqual([2]);
    expect(codeOf(() => cluster.node(1).decrypt('secret/a', oldCiphertext))).toBe(
      CoreErrorCode.barrierUnknownTerm,
    );
    expect(cluster.read(1, 'secret/a')).toBe('rewritten under term 2');
  });

  it('Barrier credits a reservation only to the node that proposed it', () => {
    const cluster = new Cluster(2, { rotation: { reservationEncryptions: 3 } });
    cluster.reserve(0);
    expect(cluster.node(0).remainingEncryptions()).toBe(3);
    expect(cluster.node(1).remainingEncryptions()).toBe(0);
    expect(codeOf(() => cluster.node(1).encrypt('p', Buffer.of(1)))).toBe(
      CoreErrorCode.barrierReservationExhausted,
    );
    for (let i = 0; i < 3; i++) {
      cluster.node(0).encrypt('p', Buffer.of(i));
    }
    expect(codeOf(() => cluster.node(0).encrypt('p', Buffer.of(9)))).toBe(
      CoreErrorCode.barrierReservationExhausted,
    );
  });

  it('Barrier refuses the second of two changes prepared on one generation, everywhere', () => {
    const cluster = new Cluster(2, { rotation: { reservationEncryptions: 5 } });
    const first = cluster.node(0).prepareReservation();
    const second = cluster.node(1).prepareRotation(10);
    cluster.propose({ kind: 'keyring', bytes: first.bytes });
    cluster.propose({ kind: 'keyring', bytes: second.bytes });
    cluster.applyAll();
    expect(cluster.outcomes.map((outcome) => outcome.applied)).toEqual([true, false]);
    expect(cluster.outcomes[1]).toMatchObject({ code: CoreErrorCode.keyringChangeStale });
    expect(cluster.node(1).remainingEncryptions()).toBe(0);
    expect(cluster.node(0).keyringStatus()).toMatchObject({ term: 1, encryptions: 5 });
  });

  it('Barrier replays an already-applied change after a restart as stale, changing nothing', () => {
    const cluster = new Cluster(1);
    const change = cluster.node(0).prepareReservation();
    cluster.propose({ kind: 'keyring', bytes: change.bytes });
    cluster.applyAll();
    const restarted = cluster.restart(0);
    expect(restarted.applyKeyringChange(change.bytes)).toMatchObject({
      applied: false,
      code: CoreErrorCode.keyringChangeStale,
    });
    expect(restarted.keyringStatus().generation).toBe(2);
  });

  it('Barrier.applyKeyringChange throws on corrupt bytes and keeps its keyring', () => {
    const cluster = new Cluster(1);
    const change = Buffer.from(cluster.node(0).prepareReservation().bytes);
    change[40] = (change[40] ?? 0) ^ 4;
    expect(codeOf(() => cluster.node(0).applyKeyringChange(change))).toBe(
      CoreErrorCode.keyringCorrupt,
    );
    expect(cluster.node(0).keyringStatus()).toMatchObject({ generation: 1, encryptions: 0 });
  });

  it('Barrier never under-counts encryptions across a crash and a leader change', () => {
    const options = { rotation: { reservationEncryptions: 10 } };
    const cluster = new Cluster(2, options);
    cluster.reserve(0);
    for (let i = 0; i < 3; i++) {
      cluster.write(0, `secret/${i}`, 'v');
    }
    const restarted = cluster.restart(0, options);
    expect(restarted.keyringStatus().encryptions).toBe(10);
    expect(restarted.remainingEncryptions()).toBe(0);
    // The other node takes over: it must reserve before it writes, and the count only grows.
    expect(codeOf(() => cluster.node(1).encrypt('p', Buffer.of(1)))).toBe(
      CoreErrorCode.barrierReservationExhausted,
    );
    expect(cluster.node(1).needsReservation()).toBe(true);
    cluster.reserve(1);
    cluster.write(1, 'secret/next', 'v');
    expect(cluster.node(0).keyringStatus().encryptions).toBe(20);
  });

  it('Barrier falls due for rotation by count and refuses to reserve past encryptionsMax', () => {
    const options = { rotation: { encryptionsMax: 25, reservationEncryptions: 10 } };
    const cluster = new Cluster(1, options);
    const node = cluster.node(0);
    cluster.reserve(0);
    expect(node.isRotationDue(0)).toBe(false);
    cluster.reserve(0);
    // 5 left under the limit: less than a block, so rotation is due; the rest can still be taken.
    expect(node.isRotationDue(0)).toBe(true);
    cluster.reserve(0);
    expect(node.keyringStatus().encryptions).toBe(25);
    expect(node.remainingEncryptions()).toBe(25);
    expect(node.isRotationDue(0)).toBe(true);
    expect(node.needsReservation()).toBe(false);
    expect(codeOf(() => node.prepareReservation())).toBe(CoreErrorCode.barrierRotationRequired);
    cluster.rotate(0, 0);
    expect(node.keyringStatus()).toMatchObject({ term: 2, encryptions: 10 });
    expect(node.remainingEncryptions()).toBe(10);
    expect(node.isRotationDue(0)).toBe(false);
  });

  it('Barrier falls due for rotation by interval on a fake clock', () => {
    const day = 86_400_000;
    const cluster = new Cluster(1, { rotation: { rotationIntervalMs: 30 * day } });
    const node = cluster.node(0);
    let nowMs = 0;
    cluster.rotate(0, nowMs);
    nowMs += 30 * day - 1;
    expect(node.isRotationDue(nowMs)).toBe(false);
    nowMs += 1;
    expect(node.isRotationDue(nowMs)).toBe(true);
    cluster.rotate(0, nowMs);
    expect(node.isRotationDue(nowMs)).toBe(false);
    expect(node.keyringStatus()).toMatchObject({ term: 3, installTimeMs: nowMs });
  });

  it('Barrier driven by needsReservation and isRotationDue never encrypts past its limits', () => {
    const options = { rotation: { encryptionsMax: 40, reservationEncryptions: 8 } };
    const cluster = new Cluster(2, options);
    const done = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      const leader = i < 250 ? 0 : 1;
      const node = cluster.node(leader);
      if (node.isRotationDue(i)) {
        cluster.rotate(leader, i);
      } else if (node.needsReservation()) {
        cluster.reserve(leader);
      }
      const ciphertext = node.encrypt(`k/${i}`, Buffer.of(i & 0xff));
      const term = readCiphertextHeader('', ciphertext).term;
      done.set(term, (done.get(term) ?? 0) + 1);
    }
    const status = cluster.node(1).keyringStatus();
    for (const entry of status.terms) {
      expect(entry.encryptions).toBeLessThanOrEqual(40);
      expect(done.get(entry.term) ?? 0).toBeLessThanOrEqual(entry.encryptions);
    }
    expect(status.term).toBeGreaterThan(10);
  });
});
