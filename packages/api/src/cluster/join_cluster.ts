/**
 * The joining server's side of a join (docs/design/cluster.md §3): it asks the addresses in
 * the token, in turn and again with backoff (retry_join), until one admits it, then hands the
 * verified grant to the node. A refusal of the token itself ends the attempts: a bad, used or
 * expired token does not get better by retrying.
 *
 * NB: the API port's certificate is not checked here (the joiner has no CA for it, and needs
 * none): the request carries no secret (only the token's MAC), and the grant is accepted only
 * when it authenticates with the same token and carries a CA matching the token's pin; its one
 * secret part is encrypted under the token. A man in the middle learns nothing it can use.
 */
import {
  acceptGrant,
  CoreError,
  CoreErrorCode,
  prepareJoin,
  type CofferNode,
  type JoinGrant,
  type ServerLog,
} from '@coffer/core';
import { loadCofferPackageDefinition } from '@coffer/client';
import {
  Client,
  credentials,
  Metadata,
  type MethodDefinition,
  type ServiceError,
} from '@grpc/grpc-js';

/** Where this node is reached, as it tells the leader. */
export interface JoinSelf {
  readonly nodeId: number;
  readonly clusterAddress: string;
  readonly apiAddress: string;
}

/** How the attempts are paced. */
export interface JoinPacing {
  /** Waits ms (real time in servers, a fake in tests). */
  readonly wait: (ms: number) => Promise<void>;
  /** First retry delay, doubled up to maxMs. */
  readonly initialMs: number;
  readonly maxMs: number;
  /** Stop trying (server shutdown). */
  readonly stopped: () => boolean;
}

const callDeadlineMs = 15_000;

interface LogicalRequest {
  readonly path: string;
  readonly data_json: string;
}
interface LogicalResponse {
  readonly data_json: string;
}

function writeMethod(): MethodDefinition<LogicalRequest, LogicalResponse> {
  const service = loadCofferPackageDefinition()['coffer.v1.Logical'];
  const write = service !== undefined && !('format' in service) ? service['Write'] : undefined;
  if (write === undefined) {
    throw new Error('coffer/v1/logical.proto does not define Logical.Write');
  }
  return write as MethodDefinition<LogicalRequest, LogicalResponse>;
}

/** The outcome of asking one address. */
type Asked =
  | { readonly ok: true; readonly grant: JoinGrant }
  | { readonly ok: false; readonly code: string; readonly permanent: boolean };

async function ask(address: string, request: string): Promise<Asked> {
  const method = writeMethod();
  const client = new Client(
    address,
    credentials.createSsl(null, null, null, {
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    }),
  );
  try {
    const response = await new Promise<LogicalResponse>((resolve, reject) => {
      client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        { path: 'sys/storage/raft/bootstrap/join', data_json: JSON.stringify({ request }) },
        new Metadata(),
        { deadline: Date.now() + callDeadlineMs },
        (error: ServiceError | null, value?: LogicalResponse) => {
          if (error !== null || value === undefined) {
            reject(error ?? new Error('empty answer'));
          } else {
            resolve(value);
          }
        },
      );
    });
    const data = JSON.parse(response.data_json) as { grant?: unknown };
    if (typeof data.grant !== 'string') {
      return { ok: false, code: 'COFFER_CORE_INVALID_REQUEST', permanent: false };
    }
    return { ok: true, grant: JSON.parse(data.grant) as JoinGrant };
  } catch (error) {
    const trailer = (error as Partial<ServiceError> | undefined)?.metadata?.get(
      'coffer-error-code',
    )[0];
    const code = typeof trailer === 'string' ? trailer : 'UNAVAILABLE';
    return { ok: false, code, permanent: code === CoreErrorCode.joinRefused };
  } finally {
    client.close();
  }
}

/**
 * Joins `node` to the cluster of `tokenText`, asking each address in turn, retrying with
 * backoff until admitted. Resolves once the node runs Raft as a learner; throws
 * COFFER_CORE_JOIN_REFUSED when the token is refused (or the grant does not check out), and
 * COFFER_CORE_NOT_ACTIVE when pacing says stop first.
 */
export async function joinCluster(
  node: CofferNode,
  tokenText: string,
  options: { readonly self: JoinSelf; readonly log: ServerLog; readonly pacing: JoinPacing },
): Promise<void> {
  const { self, log, pacing } = options;
  // NB: before asking, so a node that may not join spends no token.
  node.membership.assertMayJoin();
  let delayMs = pacing.initialMs;
  for (let attempt = 1; !pacing.stopped(); attempt++) {
    // NB: a fresh key and nonce per attempt; the token's record is consumed only on success.
    const pending = prepareJoin(tokenText, self);
    for (const address of pending.token.addresses) {
      const asked = await ask(address, JSON.stringify(pending.request));
      if (asked.ok) {
        await node.membership.join(acceptGrant(pending, asked.grant));
        log.info('cluster_joined', { nodeId: self.nodeId, via: address, attempt });
        return;
      }
      log.warn('cluster_join_attempt_failed', { via: address, code: asked.code, attempt });
      if (asked.permanent) {
        throw new CoreError(
          CoreErrorCode.joinRefused,
          'Make a new join token on the active node (coffer operator raft join-token): this one was refused',
        );
      }
    }
    await pacing.wait(delayMs);
    delayMs = Math.min(pacing.maxMs, delayMs * 2);
  }
  throw new CoreError(
    CoreErrorCode.notActive,
    'Retry the join: no address in the token admitted this node in time (is the active node up?)',
  );
}
