/**
 * Token revocation: the token is dead from its first write (revokedMs), then its children are
 * revoked depth-first, each with the leases it created, and the entries and indexes deleted.
 * Orphaning revocation (revoke-orphan) detaches the children instead of revoking them.
 *
 * ```
 *   mark(root) ─▶ take first child ─▶ mark(child) ─▶ … (descend)
 *                      │ none left
 *                      ▼
 *                 destroy(node): leases ─▶ own lease ─▶ entry, accessor, parent index
 *                      └─▶ back to the parent, next child
 * ```
 *
 * Invariant: every node is marked before anything below it is touched, so no token of the tree
 * validates once its revocation began; the walk holds one path of keys, not the tree. A walk
 * interrupted (crash, leadership loss) is finished by tidy or by revoking again: marking is
 * idempotent.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { StorageView } from '../router/storage_view.ts';
import {
  accessorPath,
  childPath,
  childrenPrefix,
  entryPath,
  type TokenEntry,
} from './token_entry.ts';
import type { TokenRecords } from './token_records.ts';

/** What revocation needs of the lease store. */
export interface RevocationLeases {
  revokeByToken(tokenKey: string): Promise<void>;
  forget(leaseId: string): Promise<void>;
}

/** What revocation works with. */
export interface RevocationContext {
  readonly records: TokenRecords;
  readonly leases: RevocationLeases;
}

const retriesMax = 8;

/** Marks token `key` revoked at nowMs; 'missing' when it has no entry. */
export async function markRevoked(
  context: RevocationContext,
  input: { key: string; nowMs: number },
): Promise<'marked' | 'missing'> {
  for (let attempt = 0; attempt < retriesMax; attempt += 1) {
    const read = await context.records.read(input.key);
    if (read === undefined) {
      return 'missing';
    }
    if (read.entry.revokedMs !== undefined) {
      return 'marked';
    }
    if (await context.records.replace(read, { ...read.entry, revokedMs: input.nowMs })) {
      return 'marked';
    }
  }
  throw new CoreError(CoreErrorCode.writeRefused, 'Retry the revocation: the token kept changing');
}

async function firstChild(storage: StorageView, parentKey: string): Promise<string | undefined> {
  const prefix = childrenPrefix(parentKey);
  const page = await storage.list(prefix, { limit: 1 });
  return page.keys[0]?.slice(prefix.length);
}

/** Deletes a (marked) token: its leases, its own lease, its entry and its index entries. */
async function destroy(context: RevocationContext, key: string): Promise<void> {
  const { records, leases } = context;
  const read = await records.read(key);
  await leases.revokeByToken(key);
  if (read?.entry.leaseId !== undefined) {
    await leases.forget(read.entry.leaseId);
  }
  const entry = read?.entry;
  await records.storage.write({
    operations: [
      { kind: 'delete', key: entryPath(key) },
      ...(entry === undefined
        ? []
        : [{ kind: 'delete' as const, key: accessorPath(records.accessorKeyOf(entry.accessor)) }]),
      ...(entry?.parentKey === undefined
        ? []
        : [{ kind: 'delete' as const, key: childPath(entry.parentKey, key) }]),
    ],
  });
  records.forget(key);
}

/** Revokes token `key`, its children recursively and every lease any of them created. */
export async function revokeTree(
  context: RevocationContext,
  input: { key: string; nowMs: number },
): Promise<void> {
  const { records } = context;
  if ((await markRevoked(context, input)) === 'missing') {
    await context.leases.revokeByToken(input.key);
    return;
  }
  const path = [input.key];
  for (let top = path.at(-1); top !== undefined; top = path.at(-1)) {
    const child = await firstChild(records.storage, top);
    if (child === undefined) {
      path.pop();
      await destroy(context, top);
      continue;
    }
    if ((await markRevoked(context, { key: child, nowMs: input.nowMs })) === 'missing') {
      await records.storage.write({ operations: [{ kind: 'delete', key: childPath(top, child) }] });
      continue;
    }
    path.push(child);
  }
}

/** Revokes token `key` and its leases; its children become orphans, still valid. */
export async function revokeOrphan(
  context: RevocationContext,
  input: { key: string; nowMs: number },
): Promise<void> {
  const { records } = context;
  if ((await markRevoked(context, input)) === 'missing') {
    return;
  }
  for (let child = await firstChild(records.storage, input.key); child !== undefined;) {
    await detach(context, { parentKey: input.key, childKey: child });
    child = await firstChild(records.storage, input.key);
  }
  await destroy(context, input.key);
}

/** The entry without its parent. */
function orphaned(entry: TokenEntry): TokenEntry {
  const copy: Partial<Record<keyof TokenEntry, unknown>> = { ...entry };
  delete copy.parentKey;
  return { ...(copy as TokenEntry), orphan: true };
}

/** Makes a child an orphan and drops its index entry under its parent. */
async function detach(
  context: RevocationContext,
  input: { parentKey: string; childKey: string },
): Promise<void> {
  const { records } = context;
  for (let attempt = 0; attempt < retriesMax; attempt += 1) {
    const read = await records.read(input.childKey);
    if (read?.entry.parentKey === input.parentKey) {
      if (!(await records.replace(read, orphaned(read.entry)))) {
        continue;
      }
    }
    await records.storage.write({
      operations: [{ kind: 'delete', key: childPath(input.parentKey, input.childKey) }],
    });
    return;
  }
  throw new CoreError(
    CoreErrorCode.writeRefused,
    'Retry the revocation: a child token kept changing',
  );
}
