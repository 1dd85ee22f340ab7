/**
 * Test support (not exported): a seeded generator of state command logs, and a plain in-memory
 * model of the state machine's semantics to check the store against. The model is written
 * independently of state_apply.ts on purpose: two implementations that agree on thousands of
 * random entries are the oracle of the divergence and crash tests.
 */
import { asIndex, asTerm } from '@coffer/raft';
import type { SeededRandom } from '@coffer/raft/testing';

import {
  encodeStateCommand,
  type StateCommand,
  type StateCondition,
  type StateOperation,
} from './state_command.ts';
import type { StateEntry } from './state_apply.ts';

/** Keys that share prefixes, with non-ASCII ones, so listings and collisions get exercised. */
export const sampleKeys: readonly string[] = Array.from({ length: 48 }, (_, i) => {
  const group = ['secret/data/app', 'secret/meta', 'sys/token', 'kv/ünïcødé', 'kv/日本'][i % 5];
  return `${group}/${String(i).padStart(3, '0')}`;
});

/** The state as a map of key to version and value. */
export class StateModel {
  readonly values = new Map<string, { version: number; value: Uint8Array }>();

  /** Applies a command at index; returns whether it was applied (false: a failed condition). */
  apply(command: StateCommand, index: number): boolean {
    if (command.kind === 'transaction') {
      const holds = command.conditions.every((c) => this.#holds(c));
      if (holds) {
        for (const operation of command.operations) {
          this.#write(operation, index);
        }
      }
      return holds;
    }
    this.#write(command, index);
    return true;
  }

  #holds(condition: StateCondition): boolean {
    const current = this.values.get(condition.key);
    return condition.kind === 'absent'
      ? current === undefined
      : current?.version === condition.version;
  }

  #write(operation: StateOperation, index: number): void {
    if (operation.kind === 'put') {
      this.values.set(operation.key, { version: index, value: operation.value });
    } else {
      this.values.delete(operation.key);
    }
  }
}

function randomValue(random: SeededRandom): Uint8Array {
  return Uint8Array.from({ length: random.int(48) }, () => random.int(256));
}

function randomOperation(random: SeededRandom): StateOperation {
  const key = random.pick(sampleKeys);
  return random.chance(0.7)
    ? { kind: 'put', key, value: randomValue(random) }
    : { kind: 'delete', key };
}

function randomCondition(random: SeededRandom, model: StateModel): StateCondition {
  const key = random.pick(sampleKeys);
  const current = model.values.get(key);
  if (random.chance(0.5)) {
    return { kind: 'absent', key };
  }
  // Mostly the real version, so that transactions commit often; sometimes a stale one.
  const version =
    current !== undefined && random.chance(0.8) ? current.version : 1 + random.int(50);
  return { kind: 'version', key, version };
}

/** A random command; conditions are drawn against model so that some hold. */
export function randomCommand(random: SeededRandom, model: StateModel): StateCommand {
  const roll = random.float();
  if (roll < 0.45) {
    return { kind: 'put', key: random.pick(sampleKeys), value: randomValue(random) };
  }
  if (roll < 0.65) {
    return { kind: 'delete', key: random.pick(sampleKeys) };
  }
  const conditions = Array.from({ length: random.int(4) }, () => randomCondition(random, model));
  const operations = Array.from({ length: 1 + random.int(4) }, () => randomOperation(random));
  return { kind: 'transaction', conditions, operations };
}

/** A generated log: the entries and, per entry, the command (undefined: empty or malformed). */
export interface RandomLog {
  readonly entries: StateEntry[];
  readonly commands: (StateCommand | undefined)[];
}

/**
 * A log of count entries from index 1, with terms that grow now and then, a few empty entries
 * and a few malformed ones; model ends as the state after all of them.
 */
export function randomLog(random: SeededRandom, count: number, model: StateModel): RandomLog {
  const entries: StateEntry[] = [];
  const commands: (StateCommand | undefined)[] = [];
  let term = 1;
  for (let index = 1; index <= count; index++) {
    term += random.chance(0.02) ? 1 : 0;
    const roll = random.float();
    let data: Uint8Array;
    let command: StateCommand | undefined;
    if (roll < 0.03) {
      data = new Uint8Array(0);
    } else if (roll < 0.06) {
      data = Uint8Array.from({ length: 1 + random.int(20) }, () => random.int(256));
    } else {
      command = randomCommand(random, model);
      model.apply(command, index);
      data = encodeStateCommand(command);
    }
    entries.push({ index: asIndex(index), term: asTerm(term), data });
    commands.push(command);
  }
  return { entries, commands };
}

/** Cuts items into consecutive batches of random sizes from 1 to sizeMax. */
export function randomBatches<T>(
  random: SeededRandom,
  items: readonly T[],
  sizeMax: number,
): T[][] {
  const batches: T[][] = [];
  for (let at = 0; at < items.length;) {
    const size = 1 + random.int(sizeMax);
    batches.push(items.slice(at, at + size));
    at += size;
  }
  return batches;
}
