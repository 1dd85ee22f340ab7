/**
 * What lookups and reports show of leases (never their backend `internal` data).
 */

/** A lease as lookups show it. */
export interface LeaseView {
  readonly leaseId: string;
  readonly issuedMs: number;
  readonly expireMs: number;
  readonly lastRenewedMs: number | undefined;
  readonly renewable: boolean;
  readonly ttlSeconds: number;
}

/** A lease marked irrevocable, for reporting. */
export interface IrrevocableLease {
  readonly leaseId: string;
  readonly mountPath: string | undefined;
  readonly sinceMs: number;
  readonly failures: number;
  readonly code: string;
}
