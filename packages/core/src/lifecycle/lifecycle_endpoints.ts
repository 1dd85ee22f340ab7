/**
 * The lifecycle endpoints that CofferNode.handle serves itself, before the router: init,
 * unseal, rekey and generate-root (Vault's sys/ paths and field names). They need no token:
 * what authorizes them is a quorum of shares, so they work on a node whose router cannot run
 * yet (sealed, or not initialized), and they are not audited (the audit devices live behind
 * the barrier; docs/design/router.md).
 *
 *   update sys/init                 {secret_shares, secret_threshold, generate_hsm_key,
 *                                    break_glass_shares, break_glass_threshold}; a Shamir
 *                                    node is sealed afterwards (Vault's behaviour), an HSM
 *                                    node stays unsealed
 *   update sys/unseal               {key, reset, break_glass, migrate}
 *   read|update|delete sys/rekey/init          {secret_shares, secret_threshold}
 *   update sys/rekey/update         {key, nonce}
 *   read|update|delete sys/generate-root/attempt {otp}
 *   update sys/generate-root/update {key, nonce}
 *   update sys/storage/raft/join    {join_token}: on the node that is to join, joins the cluster
 *                                    of the token (asking its addresses until admitted)
 *   update sys/storage/raft/bootstrap/join {request}: on the active node, a joiner's
 *                                    JoinRequest as JSON, authenticated by its token's MAC,
 *                                    answered with {grant}, the JoinGrant as JSON
 *                                    (docs/design/cluster.md §3)
 *
 * Invariant: shares, tokens and one-time keys appear only in the answers of init, the last
 * rekey share and the last generate-root share (as the OTP-encoded token); never in a message.
 */
import type { JoinGrant, JoinRequest } from '../cluster/cluster_join.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import {
  Operation,
  type CoreFailure,
  type CoreResponse,
  type RequestData,
} from '../router/request.ts';
import { SealType } from '../seal/seal_provider.ts';
import type { ShareConfig } from '../seal/shamir.ts';
import type { SubmitOptions } from '../seal/share_quorum.ts';
import type { InitRequest, InitResult } from './cluster_init.ts';
import type { GenerateRootProgress, GenerateRootStep } from './generate_root.ts';
import type { UnsealProgress } from './node_status.ts';
import type { RekeyProgress, RekeyStep } from './rekey_flow.ts';

/** What the endpoints need from the node (CofferNode has it all). */
export interface LifecycleNode {
  init(request: InitRequest): Promise<InitResult>;
  seal(): Promise<void>;
  submitUnsealShare(share: string, options?: SubmitOptions): Promise<UnsealOutcome>;
  submitBreakGlassShare(share: string, options?: SubmitOptions): Promise<UnsealOutcome>;
  resetUnseal(): void;
  startRekey(next: ShareConfig): RekeyProgress;
  submitRekeyShare(share: string, options: { readonly nonce: string }): Promise<RekeyStep>;
  rekeyProgress(): RekeyProgress | undefined;
  cancelRekey(): void;
  startGenerateRoot(otp: string): GenerateRootProgress;
  submitGenerateRootShare(
    share: string,
    options: { readonly nonce: string },
  ): Promise<GenerateRootStep>;
  generateRootProgress(): GenerateRootProgress | undefined;
  cancelGenerateRoot(): void;
  acceptJoin(request: JoinRequest): Promise<JoinGrant>;
  joinWithToken(token: string): Promise<void>;
}

/** The outcome of one unseal share, as CofferNode reports it. */
export type UnsealOutcome =
  | { readonly ok: true; readonly sealed: boolean; readonly progress: UnsealProgress | undefined }
  | {
      readonly ok: false;
      readonly code: CoreErrorCode;
      readonly message: string;
      readonly retryAfterMs?: number;
    };

/** One lifecycle request: its operation, its trimmed path, its data and the status to answer. */
export interface LifecycleRequest {
  readonly operation: string;
  readonly path: string;
  readonly data: RequestData;
  readonly requestId: string;
  /** The seal status body (statusData) after the request ran. */
  readonly status: () => Record<string, unknown>;
}

type Endpoint = (node: LifecycleNode, request: LifecycleRequest) => Promise<CoreResponse>;

/** The paths this module serves. */
export const lifecyclePaths: readonly string[] = [
  'sys/init',
  'sys/unseal',
  'sys/rekey/init',
  'sys/rekey/update',
  'sys/generate-root/attempt',
  'sys/generate-root/update',
  'sys/storage/raft/join',
  'sys/storage/raft/bootstrap/join',
];

function refuse(requestId: string, code: CoreErrorCode, message: string): CoreResponse {
  return { ok: false, requestId, code, message };
}

/** The refusal of a share step, with its retry hint when rate limited. */
function refusalOf(
  requestId: string,
  step: { readonly code: CoreErrorCode; readonly message: string; readonly retryAfterMs?: number },
): CoreResponse {
  const refusal: CoreFailure = { ok: false, requestId, code: step.code, message: step.message };
  return step.retryAfterMs === undefined
    ? refusal
    : { ...refusal, retryAfterMs: step.retryAfterMs };
}

function invalid(requestId: string, message: string): CoreResponse {
  return refuse(requestId, CoreErrorCode.invalidRequest, message);
}

/** Checks that `data` has only `allowed` fields, each of the declared JS type. */
function checkFields(
  data: RequestData,
  allowed: Readonly<Record<string, 'string' | 'number' | 'boolean'>>,
): string | undefined {
  for (const [name, value] of Object.entries(data)) {
    const type = allowed[name];
    if (type === undefined) {
      return `Remove the field "${name.slice(0, 64)}": it is not one of ${Object.keys(allowed).join(', ')}`;
    }
    if (value !== undefined && value !== null && typeof value !== type) {
      return `Send "${name}" as a ${type}`;
    }
    if (type === 'number' && typeof value === 'number' && !Number.isSafeInteger(value)) {
      return `Send "${name}" as a whole number`;
    }
  }
  return undefined;
}

const initFields = {
  secret_shares: 'number',
  secret_threshold: 'number',
  generate_hsm_key: 'boolean',
  break_glass_shares: 'number',
  break_glass_threshold: 'number',
} as const;

function initRequestOf(data: RequestData): InitRequest {
  const shares = data['secret_shares'] as number | undefined;
  const threshold = data['secret_threshold'] as number | undefined;
  const breakGlassShares = (data['break_glass_shares'] as number | undefined) ?? 0;
  const breakGlassThreshold = (data['break_glass_threshold'] as number | undefined) ?? 0;
  return {
    ...(shares === undefined ? {} : { shares }),
    ...(threshold === undefined ? {} : { threshold }),
    ...(data['generate_hsm_key'] === true ? { generateHsmKey: true } : {}),
    ...(breakGlassShares > 0
      ? { breakGlass: { shares: breakGlassShares, threshold: breakGlassThreshold } }
      : {}),
  };
}

const init: Endpoint = async (node, request) => {
  if (request.operation !== Operation.update && request.operation !== Operation.create) {
    return unsupported(request);
  }
  const problem = checkFields(request.data, initFields);
  if (problem !== undefined) {
    return invalid(request.requestId, problem);
  }
  const result = await node.init(initRequestOf(request.data));
  if (result.sealType === SealType.shamir) {
    // NB: as in Vault, a Shamir node is sealed after init: the operator unseals it with the
    // shares just handed out, which proves they were received.
    await node.seal();
  }
  return {
    ok: true,
    requestId: request.requestId,
    data: {
      keys: result.unsealShares,
      recovery_keys: result.recoveryShares,
      break_glass_keys: result.breakGlassShares,
      root_token: result.rootToken,
      cluster_id: result.clusterId,
      seal_type: result.sealType,
    },
  };
};

const unsealFields = {
  key: 'string',
  reset: 'boolean',
  break_glass: 'boolean',
  migrate: 'boolean',
} as const;

const unseal: Endpoint = async (node, request) => {
  if (request.operation !== Operation.update && request.operation !== Operation.create) {
    return unsupported(request);
  }
  const problem = checkFields(request.data, unsealFields);
  if (problem !== undefined) {
    return invalid(request.requestId, problem);
  }
  if (request.data['migrate'] === true) {
    // NB: Vault's offline migration (unseal with the old seal's shares, then rewrap) is not
    // how Coffer migrates: the active node rewraps the root key online (seal_migration.ts).
    return refuse(
      request.requestId,
      CoreErrorCode.unsupportedOperation,
      'Unseal without "migrate": Coffer migrates a seal online on the unsealed active node ' +
        '(sys/seal-migration, `coffer operator seal-migrate`; docs/design/seal.md), so ' +
        'unsealing never migrates',
    );
  }
  const key = request.data['key'] as string | undefined;
  if (request.data['reset'] === true) {
    node.resetUnseal();
    if (key === undefined || key === '') {
      return { ok: true, requestId: request.requestId, data: request.status() };
    }
  }
  if (key === undefined || key === '') {
    return invalid(request.requestId, 'Send one share in "key" (or "reset": true)');
  }
  const submit =
    request.data['break_glass'] === true ? 'submitBreakGlassShare' : 'submitUnsealShare';
  const step = await node[submit](key);
  if (!step.ok) {
    return refusalOf(request.requestId, step);
  }
  return { ok: true, requestId: request.requestId, data: request.status() };
};

function unsupported(request: LifecycleRequest): CoreResponse {
  return refuse(
    request.requestId,
    CoreErrorCode.unsupportedOperation,
    `Use another operation: ${JSON.stringify(request.operation.slice(0, 16))} is not supported on ${request.path}`,
  );
}

function progressData(
  progress: UnsealProgress & { readonly attemptNonce: string },
): Record<string, unknown> {
  return {
    started: true,
    nonce: progress.attemptNonce,
    t: progress.threshold,
    n: progress.shares,
    progress: progress.progress,
  };
}

function rekeyData(progress: RekeyProgress | undefined): Record<string, unknown> {
  if (progress === undefined) {
    return { started: false, nonce: '', t: 0, n: 0, progress: 0 };
  }
  return {
    ...progressData(progress),
    new_shares: progress.next.shares,
    new_threshold: progress.next.threshold,
  };
}

const rekeyInit: Endpoint = (node, request) => {
  switch (request.operation) {
    case Operation.read:
      return Promise.resolve({
        ok: true,
        requestId: request.requestId,
        data: rekeyData(node.rekeyProgress()),
      });
    case Operation.delete:
      node.cancelRekey();
      return Promise.resolve({ ok: true, requestId: request.requestId });
    case Operation.create:
    case Operation.update: {
      const problem = checkFields(request.data, {
        secret_shares: 'number',
        secret_threshold: 'number',
      });
      if (problem !== undefined) {
        return Promise.resolve(invalid(request.requestId, problem));
      }
      const shares = request.data['secret_shares'];
      const threshold = request.data['secret_threshold'];
      if (typeof shares !== 'number' || typeof threshold !== 'number') {
        return Promise.resolve(
          invalid(
            request.requestId,
            'Send "secret_shares" and "secret_threshold" for the new shares',
          ),
        );
      }
      const progress = node.startRekey({ shares, threshold });
      return Promise.resolve({ ok: true, requestId: request.requestId, data: rekeyData(progress) });
    }
    default:
      return Promise.resolve(unsupported(request));
  }
};

/** Reads {key, nonce} of a share submission, or the refusal to send. */
function shareOf(request: LifecycleRequest): { key: string; nonce: string } | CoreResponse {
  if (request.operation !== Operation.update && request.operation !== Operation.create) {
    return unsupported(request);
  }
  const problem = checkFields(request.data, { key: 'string', nonce: 'string' });
  if (problem !== undefined) {
    return invalid(request.requestId, problem);
  }
  const key = request.data['key'];
  const nonce = request.data['nonce'];
  if (typeof key !== 'string' || key === '' || typeof nonce !== 'string' || nonce === '') {
    return invalid(request.requestId, 'Send one share in "key" and the attempt\'s "nonce"');
  }
  return { key, nonce };
}

/** What a share step answers: refused, counted, or done with its result. */
type ShareStep<Progress, Done> =
  | {
      readonly ok: false;
      readonly code: CoreErrorCode;
      readonly message: string;
      readonly retryAfterMs?: number;
    }
  | { readonly ok: true; readonly done: false; readonly progress: Progress }
  | ({ readonly ok: true; readonly done: true } & Done);

/**
 * The endpoint that takes one share of a running attempt (rekey, generate-root): the step's
 * refusal, its progress (`complete: false`), or its result (`complete: true`).
 */
function shareUpdate<Progress, Done>(
  submit: (
    node: LifecycleNode,
    share: { key: string; nonce: string },
  ) => Promise<ShareStep<Progress, Done>>,
  views: {
    readonly progress: (progress: Progress) => Record<string, unknown>;
    readonly done: (step: Done) => Record<string, unknown>;
  },
): Endpoint {
  return async (node, request) => {
    const share = shareOf(request);
    if ('ok' in share) {
      return share;
    }
    const step = await submit(node, share);
    if (!step.ok) {
      return refusalOf(request.requestId, step);
    }
    const data = step.done
      ? { complete: true, ...views.done(step) }
      : { complete: false, ...views.progress(step.progress) };
    return { ok: true, requestId: request.requestId, data };
  };
}

const rekeyUpdate = shareUpdate(
  (node, share) => node.submitRekeyShare(share.key, { nonce: share.nonce }),
  {
    progress: rekeyData,
    done: (step: { readonly shares: readonly string[] }) => ({ keys: step.shares }),
  },
);

function generateRootData(progress: GenerateRootProgress | undefined): Record<string, unknown> {
  return progress === undefined
    ? { started: false, nonce: '', t: 0, n: 0, progress: 0 }
    : progressData(progress);
}

const generateRootAttempt: Endpoint = (node, request) => {
  switch (request.operation) {
    case Operation.read:
      return Promise.resolve({
        ok: true,
        requestId: request.requestId,
        data: generateRootData(node.generateRootProgress()),
      });
    case Operation.delete:
      node.cancelGenerateRoot();
      return Promise.resolve({ ok: true, requestId: request.requestId });
    case Operation.create:
    case Operation.update: {
      const problem = checkFields(request.data, { otp: 'string' });
      const otp = request.data['otp'];
      if (problem !== undefined || typeof otp !== 'string' || otp === '') {
        return Promise.resolve(
          invalid(request.requestId, problem ?? 'Send the one-time key in "otp"'),
        );
      }
      const progress = node.startGenerateRoot(otp);
      return Promise.resolve({
        ok: true,
        requestId: request.requestId,
        data: generateRootData(progress),
      });
    }
    default:
      return Promise.resolve(unsupported(request));
  }
};

const generateRootUpdate = shareUpdate(
  (node, share) => node.submitGenerateRootShare(share.key, { nonce: share.nonce }),
  {
    progress: generateRootData,
    done: (step: { readonly encodedToken: string }) => ({ encoded_token: step.encodedToken }),
  },
);

/** A JoinRequest's fields and their types; the MAC check in acceptJoin covers their values. */
const joinRequestFields = {
  tokenId: 'string',
  nodeId: 'number',
  clusterAddress: 'string',
  apiAddress: 'string',
  publicKeyPem: 'string',
  nonce: 'string',
  mac: 'string',
} as const;

/** Request JSON beyond this is not a join request. */
const joinRequestBytesMax = 4096;

/** Join tokens are short; anything longer is not one. */
const joinTokenLengthMax = 4096;

const joinWithToken: Endpoint = async (node, request) => {
  if (request.operation !== Operation.update && request.operation !== Operation.create) {
    return unsupported(request);
  }
  const problem = checkFields(request.data, { join_token: 'string' });
  const token = request.data['join_token'];
  if (problem !== undefined || typeof token !== 'string' || token.length > joinTokenLengthMax) {
    return invalid(request.requestId, problem ?? 'Send the join token as "join_token"');
  }
  await node.joinWithToken(token);
  return { ok: true, requestId: request.requestId, data: { joined: true } };
};

const admitJoiner: Endpoint = async (node, request) => {
  if (request.operation !== Operation.update && request.operation !== Operation.create) {
    return unsupported(request);
  }
  const problem = checkFields(request.data, { request: 'string' });
  const text = request.data['request'];
  if (problem !== undefined || typeof text !== 'string' || text.length > joinRequestBytesMax) {
    return invalid(request.requestId, problem ?? 'Send the join request as the "request" field');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return invalid(request.requestId, 'Send the join request as JSON in "request"');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalid(request.requestId, 'Send the join request as a JSON object');
  }
  const fieldProblem = checkFields(parsed as RequestData, joinRequestFields);
  const complete = Object.keys(joinRequestFields).every((name) => name in parsed);
  if (fieldProblem !== undefined || !complete) {
    return invalid(request.requestId, fieldProblem ?? 'Send every field of the join request');
  }
  const grant = await node.acceptJoin(parsed as JoinRequest);
  return { ok: true, requestId: request.requestId, data: { grant: JSON.stringify(grant) } };
};

const endpoints: Readonly<Record<string, Endpoint>> = {
  'sys/init': init,
  'sys/unseal': unseal,
  'sys/rekey/init': rekeyInit,
  'sys/rekey/update': rekeyUpdate,
  'sys/generate-root/attempt': generateRootAttempt,
  'sys/generate-root/update': generateRootUpdate,
  'sys/storage/raft/join': joinWithToken,
  'sys/storage/raft/bootstrap/join': admitJoiner,
};

/**
 * Serves `request` when its path is a lifecycle endpoint; undefined otherwise. Never throws:
 * a CoreError becomes its coded refusal, anything else COFFER_CORE_INTERNAL.
 */
export function serveLifecycle(
  node: LifecycleNode,
  request: LifecycleRequest,
): Promise<CoreResponse> | undefined {
  const endpoint = endpoints[request.path];
  if (endpoint === undefined) {
    return undefined;
  }
  return endpoint(node, request).catch((error: unknown) =>
    error instanceof CoreError
      ? refuse(request.requestId, error.code, error.message)
      : refuse(
          request.requestId,
          CoreErrorCode.internal,
          'Retry later: the lifecycle request failed (the server log has details)',
        ),
  );
}
