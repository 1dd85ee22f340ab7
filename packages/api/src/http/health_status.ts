/**
 * Vault's `/v1/sys/health` and `/v1/sys/seal-status` over core's status data: the status code
 * of each node state (200 active, 429 unsealed standby, 501 not initialized, 503 sealed), the
 * query parameters that override them, and the JSON bodies with Vault's field names.
 *
 * Order of the checks, as Vault's: not initialized, then sealed, then standby, then active.
 * A bad query value is refused (400) rather than ignored, so a load balancer misconfigured with
 * `sealedcode=abc` fails loudly instead of treating a sealed node as healthy.
 */

/** The node state the status endpoints report, parsed from core's `sys/health` data. */
export interface StatusView {
  readonly initialized: boolean;
  readonly sealed: boolean;
  /** Unsealed, initialized and not the active node. */
  readonly standby: boolean;
  /** The seal type (`shamir`, `pkcs11`). */
  readonly type: string;
  readonly clusterId: string | undefined;
  /** Unseal threshold and share count; 0 when unknown (not initialized, HSM seal). */
  readonly threshold: number;
  readonly shares: number;
  /** Shares submitted towards the current unseal. */
  readonly progress: number;
  /** The current unseal attempt's nonce, "" when none. */
  readonly nonce: string;
  /** The seal type of the node's seal record, when it has one (beside the configured `type`). */
  readonly storedType: string | undefined;
  /** `none`, `running` or `config_differs` (core's status_data.ts); `none` when absent. */
  readonly sealMigration: string;
}

/** The status code for each state and whether a standby counts as active. */
export interface HealthCodes {
  readonly active: number;
  readonly standby: number;
  readonly sealed: number;
  readonly uninitialized: number;
  /** `standbyok`: a standby answers with the active code. */
  readonly standbyOk: boolean;
}

/** Vault's defaults. */
export const healthCodesDefault: HealthCodes = {
  active: 200,
  standby: 429,
  sealed: 503,
  uninitialized: 501,
  standbyOk: false,
};

/** Query parameters that set a status code, and the field each sets. */
const codeParameters = {
  activecode: 'active',
  standbycode: 'standby',
  sealedcode: 'sealed',
  uninitcode: 'uninitialized',
} as const;

/** Vault's parameters for states Coffer does not have (DR, performance standby, removed nodes):
 * validated like the others so a request valid for Vault is valid here, then ignored. */
const ignoredCodeParameters = [
  'drsecondarycode',
  'performancestandbycode',
  'haunhealthycode',
  'removedcode',
] as const;
const ignoredFlagParameters = ['perfstandbyok'] as const;

const statusCodeMin = 100;
const statusCodeMax = 599;

/** Go's strconv.ParseBool words, plus an empty value (a bare `?standbyok`, as old Vaults). */
const trueWords: ReadonlySet<string> = new Set(['', '1', 't', 'T', 'true', 'TRUE', 'True']);
const falseWords: ReadonlySet<string> = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** The codes of a health request, or why its query is refused (never echoing the value). */
export type HealthQuery =
  | { readonly ok: true; readonly codes: HealthCodes }
  | { readonly ok: false; readonly message: string };

function parseStatusCode(value: string): number | undefined {
  if (!/^[0-9]{3}$/.test(value)) {
    return undefined;
  }
  const code = Number(value);
  return code >= statusCodeMin && code <= statusCodeMax ? code : undefined;
}

function parseFlag(value: string): boolean | undefined {
  return trueWords.has(value) ? true : falseWords.has(value) ? false : undefined;
}

function codeRefusal(name: string): HealthQuery {
  return {
    ok: false,
    message: `Set "${name}" to an HTTP status code from ${statusCodeMin} to ${statusCodeMax}`,
  };
}

function flagRefusal(name: string): HealthQuery {
  return { ok: false, message: `Set "${name}" to true or false` };
}

/**
 * Reads Vault's health query parameters; the first value of a repeated parameter counts (as in
 * Vault). Unknown parameters are ignored.
 */
export function parseHealthQuery(query: URLSearchParams): HealthQuery {
  const codes: { -readonly [K in keyof HealthCodes]: HealthCodes[K] } = { ...healthCodesDefault };
  for (const [name, field] of Object.entries(codeParameters)) {
    const value = query.get(name);
    if (value !== null) {
      const code = parseStatusCode(value);
      if (code === undefined) {
        return codeRefusal(name);
      }
      codes[field] = code;
    }
  }
  for (const name of ignoredCodeParameters) {
    const value = query.get(name);
    if (value !== null && parseStatusCode(value) === undefined) {
      return codeRefusal(name);
    }
  }
  for (const name of ['standbyok', ...ignoredFlagParameters]) {
    const value = query.get(name);
    const flag = value === null ? false : parseFlag(value);
    if (flag === undefined) {
      return flagRefusal(name);
    }
    if (name === 'standbyok') {
      codes.standbyOk = flag;
    }
  }
  return { ok: true, codes };
}

/** The health status code of a node in `state`, as Vault's `sys/health`. */
export function healthStatusCode(
  state: Pick<StatusView, 'initialized' | 'sealed' | 'standby'>,
  codes: HealthCodes = healthCodesDefault,
): number {
  if (!state.initialized) {
    return codes.uninitialized;
  }
  if (state.sealed) {
    return codes.sealed;
  }
  if (state.standby && !codes.standbyOk) {
    return codes.standby;
  }
  return codes.active;
}

function field<T>(
  data: Readonly<Record<string, unknown>>,
  name: string,
  is: (v: unknown) => v is T,
): T | undefined {
  const value = data[name];
  return is(value) ? value : undefined;
}

const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isString = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * Parses core's status data (status_data.ts); undefined when a required field is missing or has
 * the wrong type. Absent or null counts read 0 and an absent nonce "" (Vault's shape).
 */
export function parseStatusView(
  data: Readonly<Record<string, unknown>> | undefined,
): StatusView | undefined {
  if (data === undefined) {
    return undefined;
  }
  const initialized = field(data, 'initialized', isBoolean);
  const sealed = field(data, 'sealed', isBoolean);
  const standby = field(data, 'standby', isBoolean);
  const type = field(data, 'type', isString);
  if (
    initialized === undefined ||
    sealed === undefined ||
    standby === undefined ||
    type === undefined
  ) {
    return undefined;
  }
  return {
    initialized,
    sealed,
    standby,
    type,
    clusterId: field(data, 'cluster_id', isString),
    threshold: field(data, 't', isCount) ?? 0,
    shares: field(data, 'n', isCount) ?? 0,
    progress: field(data, 'progress', isCount) ?? 0,
    nonce: field(data, 'nonce', isString) ?? '',
    storedType: field(data, 'stored_type', isString),
    sealMigration: field(data, 'seal_migration', isString) ?? 'none',
  };
}

/** What the bodies need besides the node state. */
export interface StatusContext {
  readonly version: string;
  /** Wall-clock ms since the epoch. */
  readonly nowMs: number;
}

/** Vault's `sys/health` body. */
export function healthBody(view: StatusView, context: StatusContext): Record<string, unknown> {
  return {
    initialized: view.initialized,
    sealed: view.sealed,
    standby: view.standby,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(context.nowMs / 1000),
    version: context.version,
    enterprise: false,
    ...(view.clusterId === undefined ? {} : { cluster_id: view.clusterId }),
  };
}

/** Vault's `sys/seal-status` body. */
export function sealStatusBody(view: StatusView, context: StatusContext): Record<string, unknown> {
  return {
    type: view.type,
    initialized: view.initialized,
    sealed: view.sealed,
    t: view.threshold,
    n: view.shares,
    progress: view.progress,
    nonce: view.nonce,
    version: context.version,
    // NB: Vault's flag, true while the node is in a seal migration; the state beside it.
    migration: view.sealMigration !== 'none',
    seal_migration: view.sealMigration,
    ...(view.storedType === undefined ? {} : { stored_type: view.storedType }),
    recovery_seal: view.type !== 'shamir',
    storage_type: 'raft',
    ...(view.clusterId === undefined ? {} : { cluster_id: view.clusterId }),
  };
}
