/**
 * `tidy/secret-id`: deletes expired secret_id entries, entries of roles that no longer exist (or
 * were recreated under the same name), and accessor index entries whose secret_id is gone.
 * It pages through storage, so a large mount never loads every key at once; each delete is
 * conditional on the version read, so an entry changed meanwhile (a login spent a use) is kept.
 */
import type { BackendRequest, BackendResponse, Route } from '../../router/backend.ts';
import { parseJsonBytes, type StorageView } from '../../router/storage_view.ts';
import { findRole, type RoleEntry } from './role_entry.ts';
import { deleteSecretId, findSecretId, secretIdExpired } from './secret_id_entry.ts';

const pageSize = 500;

/** Calls `visit` with every key under prefix, page by page. */
async function forEachKey(
  storage: StorageView,
  prefix: string,
  visit: (key: string) => Promise<void>,
): Promise<void> {
  let after: string | undefined;
  do {
    const page = await storage.list(
      prefix,
      after === undefined ? { limit: pageSize } : { after, limit: pageSize },
    );
    for (const key of page.keys) {
      await visit(key);
    }
    after = page.cursor;
  } while (after !== undefined);
}

/** `<kind>/<role>/<id>` split into role name and id, or undefined for a foreign key shape. */
function splitKey(key: string): { roleName: string; id: string } | undefined {
  const [, roleName, id, ...rest] = key.split('/');
  return roleName === undefined || id === undefined || rest.length > 0
    ? undefined
    : { roleName, id };
}

async function tidySecretIds(storage: StorageView, nowMs: number): Promise<number> {
  const roles = new Map<string, RoleEntry | undefined>();
  let deleted = 0;
  await forEachKey(storage, 'secret_id/', async (key) => {
    const parts = splitKey(key);
    if (parts === undefined) {
      return;
    }
    if (!roles.has(parts.roleName)) {
      roles.set(parts.roleName, (await findRole(storage, parts.roleName))?.role);
    }
    const role = roles.get(parts.roleName);
    const found = await findSecretId(storage, parts.roleName, parts.id);
    if (
      found !== undefined &&
      (role === undefined ||
        found.entry.incarnation !== role.incarnation ||
        secretIdExpired(found.entry, nowMs)) &&
      (await deleteSecretId(storage, found))
    ) {
      deleted += 1;
    }
  });
  return deleted;
}

async function tidyAccessors(storage: StorageView): Promise<number> {
  let deleted = 0;
  await forEachKey(storage, 'accessor/', async (key) => {
    const parts = splitKey(key);
    const index = await storage.getVersioned(key);
    if (parts === undefined || index === undefined) {
      return;
    }
    const { secretIdHash } = parseJsonBytes<{ secretIdHash: string }>(index.value);
    if ((await findSecretId(storage, parts.roleName, secretIdHash)) === undefined) {
      const outcome = await storage.write({
        conditions: [{ kind: 'version', key, version: index.version }],
        operations: [{ kind: 'delete', key }],
      });
      deleted += outcome.ok ? 1 : 0;
    }
  });
  return deleted;
}

async function tidy(request: BackendRequest): Promise<BackendResponse> {
  const secretIds = await tidySecretIds(request.storage, request.nowMs);
  const accessors = await tidyAccessors(request.storage);
  return { data: { deleted_secret_ids: secretIds, deleted_accessors: accessors } };
}

/** The tidy route. */
export function tidyRoute(): Route {
  return { pattern: 'tidy/secret-id', operations: { update: tidy } };
}
