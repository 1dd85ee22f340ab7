/**
 * The files of a state directory, and the atomic switch from one state to another.
 *
 *   <location>/CURRENT              "coffer-state 1 <name> <crc32 hex>\n": the live database
 *   <location>/state-000000000007/  a LevelDB database (a generation)
 *   <location>/CURRENT.tmp          a pointer being written
 *
 * A generation that CURRENT does not name is staging (a restore in progress) or garbage (the
 * state a restore replaced); both are deleted when the store opens. Switching is: fsync every
 * file of the new generation and its directory, write CURRENT.tmp, fsync it, rename it over
 * CURRENT, fsync <location>. A crash before the rename leaves the old state, after it the new
 * one, and never a mix: rename(2) replaces the pointer atomically.
 *
 * Invariant: CURRENT is written only after the generation it names is durable.
 */
import { open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

import { StorageError, StorageErrorCode } from '../errors.ts';

const pointerName = 'CURRENT';
const pointerTempName = 'CURRENT.tmp';
const pointerMagic = 'coffer-state';
const pointerVersion = 1;
const generationPattern = /^state-(\d{12})$/;

/** The directory name of generation n. */
export function generationName(generation: number): string {
  return `state-${String(generation).padStart(12, '0')}`;
}

function pointerText(name: string): string {
  const body = `${pointerMagic} ${pointerVersion} ${name}`;
  return `${body} ${crc32(body).toString(16).padStart(8, '0')}\n`;
}

function corruptPointer(location: string, problem: string): StorageError {
  return new StorageError(
    StorageErrorCode.corruptRecord,
    `Cannot open the state in "${location}": its ${pointerName} file ${problem}. Restore this node's state from a snapshot of a healthy peer`,
  );
}

/** Parses CURRENT; throws COFFER_STORAGE_CORRUPT_RECORD unless it names a generation. */
function parsePointer(location: string, text: string): string {
  const match = /^(\S+) (\d+) (\S+) ([0-9a-f]{8})\n$/.exec(text);
  if (match === null) {
    throw corruptPointer(location, 'does not parse');
  }
  const [, magic, version, name, crc] = match;
  if (crc !== crc32(`${magic} ${version} ${name}`).toString(16).padStart(8, '0')) {
    throw corruptPointer(location, 'fails its checksum');
  }
  if (magic !== pointerMagic || Number(version) !== pointerVersion) {
    throw new StorageError(
      StorageErrorCode.formatUnsupported,
      `Cannot open the state in "${location}": its ${pointerName} file has format "${magic} ${version}". Run a Coffer build that reads it`,
    );
  }
  if (name === undefined || !generationPattern.test(name)) {
    throw corruptPointer(location, 'names no generation directory');
  }
  return name;
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

/** The generation CURRENT names, or undefined when there is no CURRENT. */
export async function readPointer(location: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(location, pointerName), 'utf8');
  } catch (error) {
    if (isMissing(error)) {
      return undefined;
    }
    throw error;
  }
  return parsePointer(location, text);
}

/** The generation directories in location, oldest first. */
export async function listGenerations(
  location: string,
): Promise<{ name: string; generation: number }[]> {
  const entries = await readdir(location, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => ({ name: entry.name, match: generationPattern.exec(entry.name) }))
    .flatMap(({ name, match }) => (match === null ? [] : [{ name, generation: Number(match[1]) }]))
    .sort((a, b) => a.generation - b.generation);
}

/** The name of a generation above every one in location. */
export async function nextGenerationName(location: string): Promise<string> {
  const generations = await listGenerations(location);
  return generationName((generations.at(-1)?.generation ?? 0) + 1);
}

/** Deletes every generation but current, and a half-written pointer. */
export async function removeLeftovers(location: string, current: string): Promise<void> {
  for (const { name } of await listGenerations(location)) {
    if (name !== current) {
      await rm(join(location, name), { recursive: true, force: true });
    }
  }
  await rm(join(location, pointerTempName), { force: true });
}

/** Fsyncs a file or directory by path. */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Fsyncs every file in directory (LevelDB keeps its files flat), then the directory itself. */
export async function fsyncTree(directory: string): Promise<void> {
  const entries = await readdir(directory, { withFileTypes: true });
  for (const entry of entries) {
    if (entry.isFile()) {
      await fsyncPath(join(directory, entry.name));
    }
  }
  await fsyncPath(directory);
}

/**
 * Points CURRENT at generation name, atomically and durably. The generation must already be
 * durable (see {@link fsyncTree}).
 */
export async function writePointer(location: string, name: string): Promise<void> {
  const temp = join(location, pointerTempName);
  const handle = await open(temp, 'w');
  try {
    await writeFile(handle, pointerText(name));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(location, pointerName));
  await fsyncPath(location);
}
