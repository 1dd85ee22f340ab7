/**
 * The decided form of a token to issue: policies checked, TTLs planned, parent read. Built by
 * the login, wrapping and `auth/token/create` paths; written by TokenStore.issue().
 */
import type { TokenKind } from './token_entry.ts';
import type { VersionedEntry } from './token_records.ts';
import type { TtlPlan } from './token_ttl.ts';

/** A token to issue, fully decided. */
export interface IssueSpec {
  readonly kind: TokenKind;
  readonly policies: readonly string[];
  /** The parent as read (its version guards the write); absent for orphans. */
  readonly parent?: VersionedEntry;
  readonly ttl: TtlPlan;
  readonly periodSeconds: number;
  readonly numUses: number;
  readonly renewable: boolean;
  readonly displayName: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly boundCidrs: readonly string[];
  readonly path: string;
  readonly mountAccessor?: string;
  readonly internal?: Readonly<Record<string, unknown>>;
  readonly nowMs: number;
}
