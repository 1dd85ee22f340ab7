/**
 * The child of state_crash.test.ts: opens a LevelStateStore in a directory and either applies
 * the rest of a seeded workload batch by batch, or restores a snapshot file, telling the parent
 * what it does over IPC. It can SIGKILL itself at a named point (its own failpoints), and the
 * parent may SIGKILL it at any time.
 *
 *   apply   <dir> <seed> <entries> <batchMax> <sync 0|1> <killBatch|-1> <queued|in-flight|written>
 *           kills itself at batch killBatch (its number in the workload): with the apply queued,
 *           with its LevelDB write in flight, or once it was written
 *   restore <dir> <file> <chunkBytes> <kill: none|chunk:N|staged|switched>
 *           kills itself after reading N chunks of the file, or at a restore step
 */
import { writeSync } from 'node:fs';
import { createReadStream } from 'node:fs';

import {
  LevelStateStore,
  RestoreStep,
  type RestoreStep as Step,
  type StateDatabase,
} from '@coffer/storage';

import {
  crashSnapshotKey,
  workloadBatches,
  type StateChildMessage,
} from './state_crash_workload.ts';

function send(message: StateChildMessage): void {
  process.send?.(message, undefined, {}, () => undefined);
}

/** SIGKILLs this process, saying where on stderr; never returns. */
async function die(where: string): Promise<never> {
  writeSync(2, `state_crash_child: killing itself ${where}\n`);
  process.kill(process.pid, 'SIGKILL');
  // NB: kill(2) delivers the signal to its own caller before returning; this never resolves.
  return new Promise<never>(() => undefined);
}

/** Where in the life of its batch write the child kills itself. */
export type ApplyKillPhase = 'queued' | 'in-flight' | 'written';

/**
 * Wraps the database so that, once armed, the next batch write is handed to LevelDB and the
 * process killed at once: the write is in flight on LevelDB's thread when the signal lands.
 */
function killDuringWrite(armed: { value: boolean }): (db: StateDatabase) => StateDatabase {
  return (db) => ({
    location: db.location,
    getSync: (key) => db.getSync(key),
    scan: (range, options) => db.scan(range, options),
    snapshot: () => db.snapshot(),
    compactAll: () => db.compactAll(),
    close: () => db.close(),
    batch: () => {
      const batch = db.batch();
      return {
        put: (key, value) => {
          batch.put(key, value);
        },
        del: (key) => {
          batch.del(key);
        },
        write: (options) => {
          const written = batch.write(options);
          return armed.value ? die('with a batch write in flight') : written;
        },
      };
    },
  });
}

async function applyMode(args: readonly string[]): Promise<void> {
  const [dir = '', seed, entries, batchMax, sync, killBatch, phase] = args;
  const armed = { value: false };
  const store = await LevelStateStore.open(dir, {
    syncApply: sync === '1',
    wrapDatabase: killDuringWrite(armed),
  });
  send({ type: 'ready', appliedIndex: store.appliedIndex() });
  const batches = workloadBatches({
    seed: Number(seed),
    entryCount: Number(entries),
    batchSizeMax: Number(batchMax),
  });
  for (const [number, batch] of batches.entries()) {
    const last = batch.at(-1);
    if (last === undefined || last.index <= store.appliedIndex()) {
      continue;
    }
    const kill = number === Number(killBatch);
    send({ type: 'writing', batch: number });
    armed.value = kill && phase === 'in-flight';
    const applied = store.apply(batch);
    if (kill && phase === 'queued') {
      await die(`with batch ${number} queued`);
    }
    await applied;
    if (kill && phase === 'written') {
      await die(`after batch ${number} was written`);
    }
    send({ type: 'applied', batch: number });
  }
  await store.close();
  send({ type: 'done' });
}

async function* countedChunks(
  file: string,
  chunkBytes: number,
  killAfter: number | undefined,
): AsyncGenerator<Uint8Array> {
  let count = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: chunkBytes })) {
    yield chunk;
    count++;
    send({ type: 'chunk', count });
    if (count === killAfter) {
      await die(`after reading ${count} chunks`);
    }
  }
}

async function restoreMode(args: readonly string[]): Promise<void> {
  const [dir = '', file = '', chunkBytes, kill = 'none'] = args;
  const steps: readonly Step[] = [RestoreStep.staged, RestoreStep.switched];
  const killStep = steps.find((step) => step === kill);
  const killAfter = kill.startsWith('chunk:') ? Number(kill.slice('chunk:'.length)) : undefined;
  const store = await LevelStateStore.open(dir, {
    onRestoreStep: (step) => {
      if (step === killStep) {
        void die(`at restore step ${step}`);
      }
    },
  });
  send({ type: 'ready', appliedIndex: store.appliedIndex() });
  await store.restore(countedChunks(file, Number(chunkBytes), killAfter), {
    key: crashSnapshotKey,
  });
  await store.close();
  send({ type: 'done' });
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  // The parent went away: nothing may outlive it.
  process.on('disconnect', () => process.exit(0));
  if (mode === 'apply') {
    await applyMode(args);
  } else if (mode === 'restore') {
    await restoreMode(args);
  } else {
    throw new Error(`Usage: state_crash_child.ts apply|restore ... (got ${String(mode)})`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
