/**
 * The source of `lease_revoked` events: a StorageView over the lease store that tells, once a
 * write is committed, each lease whose record (`id/<leaseId>`, stored_lease.ts) it deleted. The
 * lease store deletes a record only when the lease ends: revoked on expiry, on request, by
 * prefix, with its token (whose own lease goes with it), or forced; so every way a lease ends
 * is seen without a hook in each.
 *
 * NB: leases are revoked by the active node, whose store writes them: the events are in the
 * active node's journal (docs/design/graphql.md, "Subscriptions").
 */
import { leasesPrefix } from '../lease/stored_lease.ts';
import type { StorageView, WriteBatch, WriteOutcome } from '../router/storage_view.ts';

/** `view` (the lease store's own) reporting each deleted lease record to `removed`. */
export function reportingLeaseRemovals(
  view: StorageView,
  removed: (leaseId: string) => void,
): StorageView {
  return {
    get: (key) => view.get(key),
    getVersioned: (key) => view.getVersioned(key),
    versionOf: (key) => view.versionOf(key),
    list: (prefix, options) => view.list(prefix, options),
    sub: (prefix) => view.sub(prefix),
    afterCommit: (callback) => {
      view.afterCommit(callback);
    },
    write: async (batch: WriteBatch): Promise<WriteOutcome> => {
      const outcome = await view.write(batch);
      if (outcome.ok) {
        const leaseIds = batch.operations
          .filter(
            (operation) => operation.kind === 'delete' && operation.key.startsWith(leasesPrefix),
          )
          .map((operation) => operation.key.slice(leasesPrefix.length));
        if (leaseIds.length > 0) {
          view.afterCommit(() => {
            for (const leaseId of leaseIds) {
              removed(leaseId);
            }
          });
        }
      }
      return outcome;
    },
  };
}
