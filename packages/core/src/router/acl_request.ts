/** What a policy check looks at: the operation, the full path, the data, and whether sudo is needed. */
import type { Operation, RequestData } from './request.ts';

/** One policy check. */
export interface AclRequest {
  readonly operation: Operation;
  /** The full request path (mount path included), validated, no leading `/`; a list keeps its trailing `/`. */
  readonly path: string;
  readonly data?: RequestData;
  /** The route is root-protected: the `sudo` capability is needed too. */
  readonly sudo?: boolean;
  /** The request's wrapping TTL, for policies with min or max wrapping TTLs. */
  readonly wrapTtlSeconds?: number;
}
