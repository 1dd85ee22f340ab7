/**
 * The source of `lease_revoked` events: the lease records (`sys/expire/id/<leaseId>`,
 * stored_lease.ts) a committed command deletes. The lease store deletes a record only when the
 * lease ends: revoked on expiry, on request, by prefix, with its token (whose own lease goes
 * with it), or forced; so every way a lease ends is seen without a hook in each. Every replica
 * applies the same commands, so every node journals the same revocations, standbys included.
 */
import type { StateCommand } from '@coffer/storage';

import { leasesPrefix } from '../lease/stored_lease.ts';

/** Where the lease store keeps its records in the replicated state (request_services.ts). */
export const leaseRecordsPrefix = `sys/expire/${leasesPrefix}`;

/** The ids of the leases whose records `command` deletes, in its order. */
export function leaseIdsDeletedBy(command: StateCommand): string[] {
  const operations = command.kind === 'transaction' ? command.operations : [command];
  const leaseIds: string[] = [];
  for (const operation of operations) {
    if (operation.kind === 'delete' && operation.key.startsWith(leaseRecordsPrefix)) {
      leaseIds.push(operation.key.slice(leaseRecordsPrefix.length));
    }
  }
  return leaseIds;
}
