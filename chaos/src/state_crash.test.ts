/**
 * Goal: a crash never leaves the LevelDB state between two batches, and never half restored.
 * After a SIGKILL during apply, the state is exactly the one after some batch boundary, no
 * earlier than the last batch the child saw written; after a SIGKILL during a restore, it is
 * exactly the old state or exactly the snapshot's, and open leaves no staging directory behind.
 *
 * Method: state_crash_child.ts runs a LevelStateStore in a real child process (tsx, IPC).
 * Apply rounds: the parent applies the seeded workload of state_crash_workload.ts to a
 * reference store and records the state hash at every batch boundary; each round the child
 * resumes the workload on the same directory and is killed at a seeded point, either by itself
 * right after it starts writing a chosen batch (the write is then in flight) or by the parent
 * when the child says it is writing one. Restore rounds: two snapshot files of different
 * states; each round the child restores one of them over the other and is killed at a seeded
 * point: after reading N chunks of the file, by the parent on the Nth chunk, once the snapshot
 * is staged but CURRENT not switched, or once CURRENT is switched. After every kill the parent
 * reopens the directory itself and compares hashes. Every wait has a deadline; no sleeps.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

import { asIndex, asTerm } from '@coffer/raft';
import { SeededRandom } from '@coffer/raft/testing';
import { encodeStateCommand, LevelStateStore } from '@coffer/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ApplyKillPhase } from './state_crash_child.ts';
import {
  crashSnapshotKey,
  workloadBatches,
  type StateChildMessage,
  type Workload,
} from './state_crash_workload.ts';

const childScript = fileURLToPath(new URL('./state_crash_child.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const exitDeadlineMs = 15_000;
const workload: Workload = { seed: 4242, entryCount: 1200, batchSizeMax: 60 };
/** How each apply round kills the child: itself at a phase of a batch write, or the parent. */
const roundKinds: readonly (ApplyKillPhase | 'parent')[] = [
  'in-flight',
  'parent',
  'queued',
  'in-flight',
  'written',
  'in-flight',
];
const restoreRounds = 4;
/** Bytes per chunk the child reads the snapshot file in (not aligned with its frames). */
const fileChunkBytes = 6000;

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'coffer-state-crash-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One child process, its messages as they come, and its exit. */
class StateChild {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  stderr = '';

  constructor(
    args: readonly string[],
    onMessage: (message: StateChildMessage, child: StateChild) => void,
  ) {
    this.process = fork(childScript, [...args], {
      cwd: repoRoot,
      execArgv: ['--conditions=@coffer/source', '--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.process.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    this.process.on('message', (message) => {
      onMessage(message as StateChildMessage, this);
    });
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        resolve({ code, signal });
      });
    });
  }

  /** SIGKILLs the child by its pid, unless it is gone. */
  kill(): void {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGKILL');
    }
  }

  /** Waits for the exit, killing the child if it outlives the deadline. */
  async exit(): Promise<ChildExit> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill();
        reject(new Error(`The child did not exit within ${exitDeadlineMs} ms: ${this.stderr}`));
      }, exitDeadlineMs);
    });
    try {
      return await Promise.race([this.exited, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Opens the directory in this process and returns its state hash and generation directories. */
async function inspectState(dir: string): Promise<{ hash: string; generations: string[] }> {
  const store = await LevelStateStore.open(dir);
  try {
    const generations = (await readdir(dir)).filter((name) => name.startsWith('state-'));
    return { hash: await store.stateHash(), generations };
  } finally {
    await store.close();
  }
}

/** The state hash after every batch boundary of the workload (0: nothing applied). */
async function boundaryHashes(): Promise<Map<string, number>> {
  const reference = await LevelStateStore.open(join(root, 'reference'), { syncApply: false });
  const hashes = new Map([[await reference.stateHash(), 0]]);
  for (const [number, batch] of workloadBatches(workload).entries()) {
    await reference.apply(batch);
    hashes.set(await reference.stateHash(), number + 1);
  }
  await reference.close();
  return hashes;
}

/** Where an apply round kills the child: by itself (at a phase of a batch) or from here. */
interface ApplyPlan {
  readonly selfKill: number;
  readonly phase: ApplyKillPhase;
  readonly parentKill: number;
  readonly sync: boolean;
}

/** The boundaries the state may be at after a self-kill at batch target in phase. */
function allowed(target: number, phase: ApplyKillPhase): number[] {
  switch (phase) {
    case 'queued':
      return [target];
    case 'in-flight':
      return [target, target + 1];
    case 'written':
      return [target + 1];
  }
}

/** What one apply round did and where the state ended. */
interface ApplyRound {
  readonly how: string;
  readonly acked: number;
  readonly boundary: number;
}

async function applyRound(
  dir: string,
  plan: ApplyPlan,
): Promise<{ acked: number; exit: ChildExit }> {
  let acked = 0;
  const args = [
    'apply',
    dir,
    String(workload.seed),
    String(workload.entryCount),
    String(workload.batchSizeMax),
    plan.sync ? '1' : '0',
    String(plan.selfKill),
    plan.phase,
  ];
  const child = new StateChild(args, (message, self) => {
    if (message.type === 'applied') {
      acked = Math.max(acked, message.batch + 1);
    }
    if (message.type === 'writing' && message.batch === plan.parentKill) {
      self.kill();
    }
  });
  const exit = await child.exit();
  return { acked, exit };
}

describe('LevelStateStore under SIGKILL', () => {
  it('a crash during apply leaves the state exactly at a batch boundary', async () => {
    const batchCount = workloadBatches(workload).length;
    const hashes = await boundaryHashes();
    expect(hashes.size).toBe(batchCount + 1);
    const dir = join(root, 'apply');
    const random = new SeededRandom(7);
    const rounds: ApplyRound[] = [];
    let boundary = 0;
    for (let round = 0; round < roundKinds.length && boundary < batchCount - 1; round++) {
      const target = boundary + random.int(Math.min(8, batchCount - boundary));
      const kind = roundKinds[round] ?? 'parent';
      const selfKill = kind !== 'parent';
      const phase = kind === 'parent' ? 'written' : kind;
      const plan = {
        selfKill: selfKill ? target : -1,
        phase,
        parentKill: selfKill ? -1 : target,
        sync: round % 3 === 0,
      };
      const { acked, exit } = await applyRound(dir, plan);
      expect(exit.signal, `round ${round} ended without a kill`).toBe('SIGKILL');
      const { hash } = await inspectState(dir);
      const reached = hashes.get(hash);
      expect(reached, `round ${round}: the state lies between two batches`).toBeDefined();
      const at = reached ?? -1;
      expect(at).toBeGreaterThanOrEqual(Math.max(acked, boundary));
      if (selfKill) {
        expect(allowed(target, phase), `round ${round}: ${kind} kill at batch ${target}`).toContain(
          at,
        );
      }
      rounds.push({
        how: `${kind} at ${target}`,
        acked,
        boundary: at,
      });
      boundary = at;
    }
    const finish = { selfKill: -1, phase: 'written', parentKill: -1, sync: false } as const;
    const { exit } = await applyRound(dir, finish);
    expect(exit.code).toBe(0);
    expect(hashes.get((await inspectState(dir)).hash)).toBe(batchCount);
    expect(rounds.length).toBeGreaterThanOrEqual(4);
  }, 60_000);

  it('a crash during restore leaves the old state or the whole snapshot, nothing between', async () => {
    const files = await snapshotFiles();
    const dir = join(root, 'restore');
    const random = new SeededRandom(11);
    let current = (await inspectState(dir)).hash;
    const kills = ['chunk', 'parent-chunk', 'staged', 'switched'] as const;
    for (let round = 0; round < restoreRounds; round++) {
      const file = files[round % 2] ?? files[0];
      const kill = kills[round % kills.length] ?? 'staged';
      // The parent's kill lands a little after the chunk it reacts to: aim at the first half.
      const span = kill === 'parent-chunk' ? Math.floor(file.chunks / 2) : file.chunks - 1;
      const killAt = 1 + random.int(span);
      const outcome = await restoreRound(dir, file.path, { kill, killAt });
      if (kill !== 'parent-chunk' || outcome.exit.code !== 0) {
        expect(outcome.exit.signal, `round ${round} (${kill}) ended without a kill`).toBe(
          'SIGKILL',
        );
      }
      const after = await inspectState(dir);
      expect(after.generations, 'open deletes what the restore left').toHaveLength(1);
      const expected =
        kill === 'switched'
          ? [file.hash]
          : kill === 'parent-chunk'
            ? [current, file.hash]
            : [current];
      expect(expected, `round ${round}: killed at ${kill} ${killAt}`).toContain(after.hash);
      current = after.hash;
    }
    const last = files[0];
    const outcome = await restoreRound(dir, last.path, { kill: 'none', killAt: 0 });
    expect(outcome.exit.code).toBe(0);
    expect((await inspectState(dir)).hash).toBe(last.hash);
  }, 60_000);
});

/** A snapshot file, the state hash it restores to, and how many chunks the child reads it in. */
interface SnapshotFile {
  readonly path: string;
  readonly hash: string;
  readonly chunks: number;
}

/** Two snapshot files of different states, each spanning many chunks. */
async function snapshotFiles(): Promise<[SnapshotFile, SnapshotFile]> {
  const make = async (name: string, seed: number): Promise<SnapshotFile> => {
    const store = await LevelStateStore.open(join(root, name), { syncApply: false });
    const random = new SeededRandom(seed);
    const entries = Array.from({ length: 2000 }, (_, i) => {
      const value = Uint8Array.from({ length: 100 + random.int(200) }, () => random.int(256));
      const data = encodeStateCommand({
        kind: 'put',
        key: `${name}/key-${random.int(5000)}`,
        value,
      });
      return { index: asIndex(i + 1), term: asTerm(1), data };
    });
    await store.apply(entries);
    const hash = await store.stateHash();
    const snapshot = await store.snapshot({
      key: crashSnapshotKey,
      membership: Uint8Array.of(1),
      keyringTerm: 1,
      chunkSizeBytes: 8192,
    });
    const path = join(root, `${name}.snapshot`);
    await pipeline(Readable.from(snapshot.chunks), createWriteStream(path));
    await store.close();
    const chunks = Math.ceil((await stat(path)).size / fileChunkBytes);
    return { path, hash, chunks };
  };
  return [await make('a', 1), await make('b', 2)];
}

async function restoreRound(
  dir: string,
  file: string,
  plan: { kill: 'chunk' | 'parent-chunk' | 'staged' | 'switched' | 'none'; killAt: number },
): Promise<{ exit: ChildExit }> {
  const selfKill =
    plan.kill === 'chunk'
      ? `chunk:${plan.killAt}`
      : plan.kill === 'parent-chunk'
        ? 'none'
        : plan.kill;
  const child = new StateChild(
    ['restore', dir, file, String(fileChunkBytes), selfKill],
    (message, self) => {
      if (
        plan.kill === 'parent-chunk' &&
        message.type === 'chunk' &&
        message.count === plan.killAt
      ) {
        self.kill();
      }
    },
  );
  return { exit: await child.exit() };
}
