/**
 * Goal: any sequence of KV operations leaves the engine agreeing with a plain model of
 * versions: numbering, check-and-set outcomes, max_versions trimming, soft delete, undelete,
 * destroy, metadata delete, patch, reads of every version, and the folder listing; and the
 * storage holds exactly the data of the versions neither trimmed nor destroyed.
 * Method: seeded random operation sequences (SeededRandom, so a failure replays from its
 * seed) over the KvHarness with max_versions 3, compared with the model after every step.
 */
import { SeededRandom } from '@coffer/raft/testing';
import { describe, expect, it } from 'vitest';

import { CoreErrorCode } from '../../errors.ts';
import { KvHarness } from './kv_test_support.ts';

type Data = Record<string, number>;

interface ModelVersion {
  data: Data;
  deleted: boolean;
  destroyed: boolean;
}

interface ModelSecret {
  current: number;
  versions: Map<number, ModelVersion>;
}

const paths = ['a', 'a/b', 'a/b/c', 'ü/日本', 'z'];
const maxVersions = 3;

class Model {
  readonly secrets = new Map<string, ModelSecret>();

  add(path: string, data: Data): number {
    const secret = this.secrets.get(path) ?? { current: 0, versions: new Map() };
    secret.current += 1;
    secret.versions.set(secret.current, { data, deleted: false, destroyed: false });
    for (const n of secret.versions.keys()) {
      if (n <= secret.current - maxVersions) {
        secret.versions.delete(n);
      }
    }
    this.secrets.set(path, secret);
    return secret.current;
  }

  live(path: string, version?: number): ModelVersion | undefined {
    const secret = this.secrets.get(path);
    const found = secret?.versions.get(version ?? secret.current);
    return found === undefined || found.deleted || found.destroyed ? undefined : found;
  }
}

function randomData(random: SeededRandom): Data {
  const data: Data = {};
  for (const key of ['k1', 'k2', 'k3']) {
    if (random.chance(0.6)) {
      data[key] = random.int(100);
    }
  }
  return data;
}

/** One run: the engine, its model and the seeded source of choices. */
interface Run {
  readonly h: KvHarness;
  readonly model: Model;
  readonly random: SeededRandom;
}

async function write({ h, model, random }: Run, path: string) {
  const current = model.secrets.get(path)?.current ?? 0;
  const cas = random.chance(0.5) ? undefined : Math.max(0, current + random.int(3) - 1);
  const data = randomData(random);
  if (cas !== undefined && cas !== current) {
    await expect(h.put(path, data, cas)).rejects.toMatchObject({ code: CoreErrorCode.casMismatch });
    return;
  }
  expect(await h.put(path, data, cas)).toBe(model.add(path, data));
}

async function patch({ h, model, random }: Run, path: string) {
  const changes: Record<string, number | null> = {};
  for (const key of ['k1', 'k2', 'k4']) {
    if (random.chance(0.5)) {
      changes[key] = random.chance(0.3) ? null : random.int(100);
    }
  }
  const base = model.live(path);
  if (base === undefined) {
    await expect(h.request('patch', `data/${path}`, { data: changes })).rejects.toMatchObject({
      code: CoreErrorCode.notFound,
    });
    return;
  }
  const mergedMap = new Map(Object.entries(base.data));
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) {
      mergedMap.delete(key);
    } else {
      mergedMap.set(key, value);
    }
  }
  const merged: Data = Object.fromEntries(mergedMap);
  const response = await h.data('patch', `data/${path}`, { data: changes });
  expect(response['version']).toBe(model.add(path, merged));
}

function someVersions(random: SeededRandom, model: Model, path: string): number[] {
  const current = model.secrets.get(path)?.current ?? 0;
  return Array.from({ length: 1 + random.int(2) }, () => 1 + random.int(current + 1));
}

async function changeVersions({ h, model, random }: Run, path: string) {
  const versions = someVersions(random, model, path);
  const action = random.pick(['delete', 'undelete', 'destroy'] as const);
  await h.request('update', `${action}/${path}`, { versions });
  for (const n of versions) {
    const version = model.secrets.get(path)?.versions.get(n);
    if (version === undefined || version.destroyed) {
      continue;
    }
    if (action === 'destroy') {
      version.destroyed = true;
    } else {
      version.deleted = action === 'delete';
    }
  }
}

async function step(run: Run): Promise<void> {
  const { h, model, random } = run;
  const path = random.pick(paths);
  const choice = random.int(10);
  if (choice < 4) {
    await write(run, path);
  } else if (choice < 5) {
    await patch(run, path);
  } else if (choice < 6) {
    await h.request('delete', `data/${path}`);
    const current = model.secrets.get(path);
    const version = current?.versions.get(current.current);
    if (version !== undefined && !version.destroyed) {
      version.deleted = true;
    }
  } else if (choice < 8) {
    await changeVersions(run, path);
  } else if (choice < 9) {
    await h.request('delete', `metadata/${path}`);
    model.secrets.delete(path);
  } else {
    h.advance(random.int(5000));
  }
}

async function checkAgainst(h: KvHarness, model: Model): Promise<void> {
  for (const path of paths) {
    const secret = model.secrets.get(path);
    if (secret === undefined) {
      await expect(h.request('read', `metadata/${path}`)).rejects.toMatchObject({
        code: CoreErrorCode.notFound,
      });
      continue;
    }
    const metadata = await h.data('read', `metadata/${path}`);
    expect(metadata['current_version']).toBe(secret.current);
    expect(Object.keys(metadata['versions'] as object).map(Number)).toEqual(
      [...secret.versions.keys()].sort((x, y) => x - y),
    );
    for (let n = 1; n <= secret.current; n++) {
      const version = secret.versions.get(n);
      if (version === undefined) {
        await expect(h.get(path, n)).rejects.toMatchObject({ code: CoreErrorCode.notFound });
      } else {
        expect(await h.get(path, n)).toEqual(
          version.deleted || version.destroyed ? null : version.data,
        );
      }
    }
  }
  const stored = [...model.secrets.values()]
    .flatMap((s) => [...s.versions.values()])
    .filter((v) => !v.destroyed).length;
  expect(h.storageKeys().filter((k) => k.startsWith('versions/'))).toHaveLength(stored);
}

describe('kv engine against a model', () => {
  it('kv operations in seeded random orders agree with the model of versions', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) {
      const random = new SeededRandom(seed);
      const h = new KvHarness();
      await h.request('update', 'config', { max_versions: maxVersions });
      const model = new Model();
      for (let i = 0; i < 150; i++) {
        await step({ h, model, random });
        await checkAgainst(h, model);
      }
      const roots = new Set(
        [...model.secrets.keys()].map((p) => (p.includes('/') ? `${p.split('/')[0]}/` : p)),
      );
      if (roots.size === 0) {
        await expect(h.request('list', 'metadata')).rejects.toMatchObject({
          code: CoreErrorCode.notFound,
        });
      } else {
        const listed = (await h.data('list', 'metadata'))['keys'] as string[];
        expect([...listed].sort()).toEqual([...roots].sort());
      }
    }
  });
});
