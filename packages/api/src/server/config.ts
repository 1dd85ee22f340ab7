/**
 * The server config file (`coffer server --config <file>`): JSON or YAML, chosen by extension
 * (.json, .yaml, .yml), with Vault-like snake_case keys. It is validated with zod in one pass:
 * every problem is reported at once, each naming its field path and what is expected, and an
 * unknown key is refused, so a typo never silently drops a setting. The reference with every
 * field and default is docs/server-config.md.
 *
 * Relative paths in the file are resolved against the file's own directory, so a config works
 * whatever the working directory of the server is.
 *
 * Invariant: the config holds no secret. The PKCS#11 PIN is named by `seal.pin_file`, never
 * written inline (a `pin` key is refused with a message saying so), and the TLS key is a file.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, isAbsolute, resolve } from 'node:path';

import type { NodeEventsSettings, Pkcs11SealConfig } from '@coffer/core';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { graphqlSettingsDefault, type GraphqlSettings } from '../graphql/graphql_endpoint.ts';

/** The gRPC listener's default address (PRODUCT.md ports). */
export const grpcAddressDefault = '127.0.0.1:8200';
/** The HTTP listener's default address (PRODUCT.md ports). */
export const httpAddressDefault = '127.0.0.1:8300';

/** Defaults of the `limits` section. */
export const serverLimitsDefault = {
  requestBytesMax: 1024 * 1024,
  grpcMessageBytesMax: 4 * 1024 * 1024,
  inFlightMax: 1024,
  shutdownGraceMs: 10_000,
} as const;

/** Log levels of the server log. */
export const LogLevel = { debug: 'debug', info: 'info', warn: 'warn', error: 'error' } as const;
/** Union of {@link LogLevel} values. */
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/** A listener's bound address and TLS files (absolute paths). */
export interface ListenerConfig {
  readonly host: string;
  readonly port: number;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
}

/** The seal as configured: Shamir shares, or a PKCS#11 token (core's Pkcs11SealConfig). */
export type ServerSealConfig =
  { readonly type: 'shamir' } | { readonly type: 'pkcs11'; readonly config: Pkcs11SealConfig };

/** A file audit device declared in the config. */
export interface AuditDeviceConfig {
  /** The device's name (Vault's path), e.g. "file". */
  readonly name: string;
  readonly filePath: string;
  readonly fsync: 'batch' | 'none';
}

/** Request and shutdown bounds. */
export interface ServerLimits {
  readonly requestBytesMax: number;
  readonly grpcMessageBytesMax: number;
  readonly inFlightMax: number;
  readonly shutdownGraceMs: number;
}

/** The cluster port and Raft timing (absent: the node runs alone, with no cluster port). */
export interface ClusterConfig {
  /** Where the cluster port listens. */
  readonly host: string;
  readonly port: number;
  /** What other nodes dial for this node's cluster port; default the listen address. */
  readonly advertiseAddress: string;
  /** What clients and joiners are told this node's API is; default the gRPC listen address. */
  readonly apiAdvertiseAddress: string;
  /** A node certificate's lifetime; renewed at two-thirds. */
  readonly certificateLifetimeMs: number;
  /** Raft timing: a tick, heartbeats every tick, an election after [timeout, 2 × timeout). */
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  /** A file holding a join token (secret, mode 0600): the node joins with it at start. */
  readonly joinTokenFile?: string;
  /** How long a joined node must stay caught up before autopilot makes it a voter. */
  readonly serverStabilizationMs: number;
  /** A member is healthy when heard from within this and trailing by at most maxTrailingLogs. */
  readonly lastContactThresholdMs: number;
  readonly maxTrailingLogs: number;
  /** Dead-server cleanup, when cleanup_dead_servers is on. */
  readonly deadServerCleanup?: {
    readonly lastContactThresholdMs: number;
    readonly minQuorum: number;
  };
}

/** Defaults of the `cluster` section (issue 9 item 9). */
export const clusterDefaults = {
  address: '127.0.0.1:8201',
  certificateLifetimeSeconds: 24 * 60 * 60,
  heartbeatIntervalMs: 100,
  electionTimeoutMs: 1000,
  serverStabilizationMs: 10_000,
  lastContactThresholdMs: 10_000,
  maxTrailingLogs: 1000,
  deadServerLastContactThresholdMs: 24 * 60 * 60 * 1000,
  minQuorum: 3,
} as const;

/** A validated config with defaults filled in and every path absolute. */
export interface ServerConfig {
  readonly nodeId: number;
  readonly storagePath: string;
  readonly listeners: { readonly grpc: ListenerConfig; readonly http: ListenerConfig };
  readonly seal: ServerSealConfig;
  /**
   * The PKCS#11 seal a seal migration started over the API moves to (`seal_migration_target`);
   * a Shamir target needs no settings. docs/design/seal.md, "Seal migration in a cluster".
   */
  readonly sealMigrationTarget?: Pkcs11SealConfig;
  readonly audit: readonly AuditDeviceConfig[];
  readonly limits: ServerLimits;
  readonly metricsUnauthenticated: boolean;
  readonly grpcReflection: boolean;
  /** The GraphQL endpoint of the HTTP listener (`graphql`; docs/design/graphql.md). */
  readonly graphql: GraphqlSettings;
  /** The node's event journal behind `sys/events` (`events`); absent: core's defaults. */
  readonly events?: NodeEventsSettings;
  readonly log: { readonly level: LogLevel; readonly file?: string };
  readonly cluster?: ClusterConfig;
}

const hostPortPattern = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

const nonEmpty = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

const hostPort = nonEmpty('"host:port"').refine(
  (value) => {
    const port = hostPortPattern.exec(value)?.[1];
    return port !== undefined && Number(port) <= 65_535;
  },
  { error: 'expected "host:port" with a port from 0 to 65535' },
);

const positiveInt = (what: string) =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .min(1, { error: `expected ${what}` });

const flag = z.boolean({ error: 'expected true or false' });

const grpcListener = z.strictObject({
  address: hostPort.default(grpcAddressDefault),
  tls_cert_file: nonEmpty('the path of the PEM certificate file'),
  tls_key_file: nonEmpty('the path of the PEM private key file'),
});

const httpListener = z.strictObject({
  address: hostPort.default(httpAddressDefault),
  tls_cert_file: nonEmpty('the path of the PEM certificate file').optional(),
  tls_key_file: nonEmpty('the path of the PEM private key file').optional(),
});

const shamirSeal = z.strictObject({ type: z.literal('shamir') });

const pkcs11Seal = z
  .strictObject({
    type: z.literal('pkcs11'),
    library: nonEmpty('the absolute path of the PKCS#11 library').refine(isAbsolute, {
      error: 'expected the absolute path of the PKCS#11 library',
    }),
    token_label: nonEmpty('the token label (1 to 32 characters)').max(32).optional(),
    slot_id: z
      .number({ error: 'expected a slot id (integer ≥ 0)' })
      .int({ error: 'expected a slot id (integer ≥ 0)' })
      .min(0, { error: 'expected a slot id (integer ≥ 0)' })
      .optional(),
    pin_file: nonEmpty('the path of the file holding the PIN (mode 0600)'),
    key_label: nonEmpty('the wrapping key label (1 to 64 characters)').max(64),
    mechanism: z
      .enum(['aes-gcm', 'rsa-oaep'], { error: 'expected "aes-gcm" or "rsa-oaep"' })
      .optional(),
    oaep_hash: z.enum(['sha256', 'sha1'], { error: 'expected "sha256" or "sha1"' }).optional(),
    rsa_modulus_bits: z
      .union([z.literal(3072), z.literal(4096)], { error: 'expected 3072 or 4096' })
      .optional(),
  })
  .refine((seal) => (seal.token_label === undefined) !== (seal.slot_id === undefined), {
    error: 'expected exactly one of token_label and slot_id',
  });

const seal = z.discriminatedUnion('type', [shamirSeal, pkcs11Seal], {
  error: 'expected type "shamir" or "pkcs11"',
});

const auditDevice = z.strictObject({
  path: z.string({ error: 'expected a device name' }).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, {
    error: 'expected a device name of letters, digits, "_", "." or "-"',
  }),
  file_path: nonEmpty('the path of the audit log file'),
  fsync: z.enum(['batch', 'none'], { error: 'expected "batch" or "none"' }).optional(),
});

/**
 * Adds an issue for each audit device whose name an earlier device has. NB: a refinement of the
 * list, not a check after the parse, so a duplicate is listed with every other problem; it runs
 * even when some device has a wrong field, hence the items are read as unknown.
 */
function duplicateAuditNames(devices: readonly unknown[], ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  devices.forEach((device, index) => {
    const name = (device as { path?: unknown } | null)?.path;
    if (typeof name !== 'string') {
      return;
    }
    if (seen.has(name)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected a unique device name',
        path: [index, 'path'],
        input: name,
      });
    }
    seen.add(name);
  });
}

const limits = z.strictObject({
  request_bytes_max: positiveInt('a byte count (integer ≥ 1)').optional(),
  grpc_message_bytes_max: positiveInt('a byte count (integer ≥ 1)').optional(),
  in_flight_max: positiveInt('a count (integer ≥ 1)').optional(),
  shutdown_grace_ms: positiveInt('milliseconds (integer ≥ 1)').optional(),
});

const graphql = z.strictObject({
  enabled: flag.optional(),
  introspection: flag.optional(),
  request_bytes_max: positiveInt('a byte count (integer ≥ 1)').optional(),
  tokens_max: positiveInt('a count of tokens (integer ≥ 1)').optional(),
  depth_max: positiveInt('a depth (integer ≥ 1)').optional(),
  cost_max: positiveInt('a cost (integer ≥ 1)').optional(),
  aliases_max: z
    .number({ error: 'expected a count (integer ≥ 0)' })
    .int({ error: 'expected a count (integer ≥ 0)' })
    .min(0, { error: 'expected a count (integer ≥ 0)' })
    .optional(),
  router_requests_max: positiveInt('a count of requests (integer ≥ 1)').optional(),
  subscription_wait_ms: positiveInt('milliseconds (integer ≥ 1)').optional(),
});

const events = z.strictObject({
  retained_max: positiveInt('a count of events (integer from 1 to 1000000)')
    .max(1_000_000, { error: 'expected a count of events (integer from 1 to 1000000)' })
    .optional(),
  wait_ms_max: positiveInt('milliseconds (integer ≥ 1)').optional(),
});

/** The `graphql` section with its defaults filled in. */
function resolveGraphql(raw: z.output<typeof graphql> | undefined): GraphqlSettings {
  const d = graphqlSettingsDefault;
  return {
    enabled: raw?.enabled ?? d.enabled,
    introspection: raw?.introspection ?? d.introspection,
    requestBytesMax: raw?.request_bytes_max ?? d.requestBytesMax,
    tokensMax: raw?.tokens_max ?? d.tokensMax,
    depthMax: raw?.depth_max ?? d.depthMax,
    costMax: raw?.cost_max ?? d.costMax,
    aliasesMax: raw?.aliases_max ?? d.aliasesMax,
    routerRequestsMax: raw?.router_requests_max ?? d.routerRequestsMax,
    subscriptionWaitMs: raw?.subscription_wait_ms ?? d.subscriptionWaitMs,
  };
}

/** The `events` section as the node's settings. */
function resolveEvents(raw: z.output<typeof events>): NodeEventsSettings {
  return {
    ...(raw.retained_max === undefined ? {} : { retainedMax: raw.retained_max }),
    ...(raw.wait_ms_max === undefined ? {} : { waitMsMax: raw.wait_ms_max }),
  };
}

const cluster = z
  .strictObject({
    address: hostPort.default(clusterDefaults.address),
    advertise_address: hostPort.optional(),
    api_advertise_address: hostPort.optional(),
    certificate_lifetime_seconds: positiveInt('seconds (integer ≥ 60)')
      .min(60, { error: 'expected seconds (integer ≥ 60)' })
      .optional(),
    heartbeat_interval_ms: positiveInt('milliseconds (integer ≥ 10)')
      .min(10, { error: 'expected milliseconds (integer ≥ 10)' })
      .optional(),
    election_timeout_ms: positiveInt('milliseconds (integer ≥ 100)')
      .min(100, { error: 'expected milliseconds (integer ≥ 100)' })
      .optional(),
    join_token_file: nonEmpty('the path of a file holding a join token (mode 0600)').optional(),
    server_stabilization_time_ms: z
      .number({ error: 'expected milliseconds (integer ≥ 0)' })
      .int({ error: 'expected milliseconds (integer ≥ 0)' })
      .min(0, { error: 'expected milliseconds (integer ≥ 0)' })
      .optional(),
    last_contact_threshold_ms: positiveInt('milliseconds (integer ≥ 1)').optional(),
    max_trailing_logs: positiveInt('a count of entries (integer ≥ 1)').optional(),
    cleanup_dead_servers: z.boolean({ error: 'expected true or false' }).optional(),
    dead_server_last_contact_threshold_ms: positiveInt('milliseconds (integer ≥ 60000)')
      .min(60_000, { error: 'expected milliseconds (integer ≥ 60000)' })
      .optional(),
    min_quorum: positiveInt('a count of voters (integer ≥ 3)')
      .min(3, { error: 'expected a count of voters (integer ≥ 3)' })
      .optional(),
  })
  .refine(
    (c) =>
      (c.election_timeout_ms ?? clusterDefaults.electionTimeoutMs) >=
      3 * (c.heartbeat_interval_ms ?? clusterDefaults.heartbeatIntervalMs),
    { error: 'expected election_timeout_ms at least 3 × heartbeat_interval_ms' },
  );

const configSchema = z.strictObject(
  {
    node_id: positiveInt('an integer ≥ 1'),
    storage: z.strictObject(
      { path: nonEmpty('the path of the data directory') },
      { error: 'expected an object with "path"' },
    ),
    listeners: z.strictObject(
      { grpc: grpcListener, http: httpListener.optional() },
      { error: 'expected an object with "grpc" (and optionally "http")' },
    ),
    seal: seal.optional(),
    seal_migration_target: pkcs11Seal.optional(),
    audit: z
      .array(auditDevice, { error: 'expected a list of file audit devices' })
      .superRefine(duplicateAuditNames)
      .optional(),
    limits: limits.optional(),
    cluster: cluster.optional(),
    metrics: z.strictObject({ unauthenticated: flag.optional() }).optional(),
    grpc: z.strictObject({ reflection: flag.optional() }).optional(),
    graphql: graphql.optional(),
    events: events.optional(),
    log: z
      .strictObject({
        level: z
          .enum(['debug', 'info', 'warn', 'error'], {
            error: 'expected "debug", "info", "warn" or "error"',
          })
          .optional(),
        file: nonEmpty('the path of the log file').optional(),
      })
      .optional(),
  },
  { error: 'expected a mapping of config sections (node_id, storage, listeners, ...)' },
);

type RawConfig = z.output<typeof configSchema>;

function pathText(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
}

function gotText(issue: z.core.$ZodIssue): string {
  let input = issue.input;
  if (issue.code === 'invalid_union' && issue.discriminator !== undefined) {
    input = (input as Record<string, unknown>)[issue.discriminator];
  }
  if (input === undefined) {
    return ' (missing)';
  }
  if (typeof input === 'object' && input !== null) {
    return Array.isArray(input) ? ' (got a list)' : '';
  }
  const shown = JSON.stringify(input);
  return ` (got ${shown.length > 60 ? `${shown.slice(0, 57)}...` : shown})`;
}

/** One line per problem: `field.path: expected ... (got ...)`. */
function issueLines(issue: z.core.$ZodIssue): string[] {
  const at = pathText(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const field = `${at}.${key}`.slice(1);
      return key === 'pin'
        ? `${field}: never write a PIN in the config; put it in a file (mode 0600) named by ` +
            `${at.slice(1) || 'seal'}.pin_file`
        : `${field}: unknown field; remove it or fix its spelling (docs/server-config.md)`;
    });
  }
  const field = at.length === 0 ? '(top level)' : at.slice(1);
  return [`${field}: ${issue.message}${gotText(issue)}`];
}

function absolute(base: string, path: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

function resolveListener(
  base: string,
  address: string,
  files: { readonly cert: string; readonly key: string },
): ListenerConfig {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port: Number(address.slice(colon + 1)),
    tlsCertFile: absolute(base, files.cert),
    tlsKeyFile: absolute(base, files.key),
  };
}

function resolveSeal(base: string, raw: RawConfig['seal']): ServerSealConfig {
  if (raw === undefined || raw.type === 'shamir') {
    return { type: 'shamir' };
  }
  return { type: 'pkcs11', config: pkcs11ConfigOf(base, raw) };
}

/** Core's PKCS#11 settings of a `pkcs11` section, with its PIN file's path made absolute. */
function pkcs11ConfigOf(base: string, raw: z.output<typeof pkcs11Seal>): Pkcs11SealConfig {
  return {
    libraryPath: raw.library,
    ...(raw.token_label === undefined ? {} : { tokenLabel: raw.token_label }),
    ...(raw.slot_id === undefined ? {} : { slotId: raw.slot_id }),
    pinFile: absolute(base, raw.pin_file),
    keyLabel: raw.key_label,
    ...(raw.mechanism === undefined ? {} : { mechanism: raw.mechanism }),
    ...(raw.oaep_hash === undefined ? {} : { oaepHash: raw.oaep_hash }),
    ...(raw.rsa_modulus_bits === undefined ? {} : { rsaModulusBits: raw.rsa_modulus_bits }),
  };
}

function resolveCluster(
  base: string,
  raw: NonNullable<RawConfig['cluster']>,
  grpcAddress: string,
): ClusterConfig {
  const listen = resolveListener(base, raw.address, { cert: '', key: '' });
  return {
    host: listen.host,
    port: listen.port,
    advertiseAddress: raw.advertise_address ?? raw.address,
    apiAdvertiseAddress: raw.api_advertise_address ?? grpcAddress,
    certificateLifetimeMs:
      (raw.certificate_lifetime_seconds ?? clusterDefaults.certificateLifetimeSeconds) * 1000,
    heartbeatIntervalMs: raw.heartbeat_interval_ms ?? clusterDefaults.heartbeatIntervalMs,
    electionTimeoutMs: raw.election_timeout_ms ?? clusterDefaults.electionTimeoutMs,
    serverStabilizationMs:
      raw.server_stabilization_time_ms ?? clusterDefaults.serverStabilizationMs,
    lastContactThresholdMs: raw.last_contact_threshold_ms ?? clusterDefaults.lastContactThresholdMs,
    maxTrailingLogs: raw.max_trailing_logs ?? clusterDefaults.maxTrailingLogs,
    ...(raw.cleanup_dead_servers === true
      ? {
          deadServerCleanup: {
            lastContactThresholdMs:
              raw.dead_server_last_contact_threshold_ms ??
              clusterDefaults.deadServerLastContactThresholdMs,
            minQuorum: raw.min_quorum ?? clusterDefaults.minQuorum,
          },
        }
      : {}),
    ...(raw.join_token_file === undefined
      ? {}
      : { joinTokenFile: absolute(base, raw.join_token_file) }),
  };
}

function resolveConfig(raw: RawConfig, base: string): ServerConfig {
  const grpc = raw.listeners.grpc;
  const http = raw.listeners.http ?? { address: httpAddressDefault };
  const grpcFiles = { cert: grpc.tls_cert_file, key: grpc.tls_key_file };
  const httpFiles = {
    cert: http.tls_cert_file ?? grpcFiles.cert,
    key: http.tls_key_file ?? grpcFiles.key,
  };
  const limits = raw.limits ?? {};
  return {
    nodeId: raw.node_id,
    storagePath: absolute(base, raw.storage.path),
    listeners: {
      grpc: resolveListener(base, grpc.address, grpcFiles),
      http: resolveListener(base, http.address, httpFiles),
    },
    seal: resolveSeal(base, raw.seal),
    ...(raw.seal_migration_target === undefined
      ? {}
      : { sealMigrationTarget: pkcs11ConfigOf(base, raw.seal_migration_target) }),
    audit: (raw.audit ?? []).map((device) => ({
      name: device.path,
      filePath: absolute(base, device.file_path),
      fsync: device.fsync ?? 'batch',
    })),
    limits: {
      requestBytesMax: limits.request_bytes_max ?? serverLimitsDefault.requestBytesMax,
      grpcMessageBytesMax: limits.grpc_message_bytes_max ?? serverLimitsDefault.grpcMessageBytesMax,
      inFlightMax: limits.in_flight_max ?? serverLimitsDefault.inFlightMax,
      shutdownGraceMs: limits.shutdown_grace_ms ?? serverLimitsDefault.shutdownGraceMs,
    },
    metricsUnauthenticated: raw.metrics?.unauthenticated ?? false,
    grpcReflection: raw.grpc?.reflection ?? false,
    graphql: resolveGraphql(raw.graphql),
    ...(raw.events === undefined ? {} : { events: resolveEvents(raw.events) }),
    log: {
      level: raw.log?.level ?? LogLevel.info,
      ...(raw.log?.file === undefined ? {} : { file: absolute(base, raw.log.file) }),
    },
    ...(raw.cluster === undefined
      ? {}
      : { cluster: resolveCluster(base, raw.cluster, grpc.address) }),
  };
}

/**
 * What the schema cannot say field by field. NB: a PKCS#11 seal migrates to Shamir only, which
 * needs no settings; and one process holds one Pkcs11Seal per library, so a second PKCS#11
 * section could not be opened beside the seal.
 */
function crossFieldProblems(raw: RawConfig): string[] {
  return raw.seal?.type === 'pkcs11' && raw.seal_migration_target !== undefined
    ? [
        'seal_migration_target: expected none beside a pkcs11 seal (it migrates to shamir, ' +
          'which needs no settings)',
      ]
    : [];
}

/**
 * Validates a parsed config document; `base` is the directory relative paths resolve against.
 * Throws COFFER_API_CONFIG_INVALID listing every problem, one per line.
 */
export function validateServerConfig(document: unknown, base: string): ServerConfig {
  const parsed = configSchema.safeParse(document, { reportInput: true });
  const problems = parsed.success
    ? crossFieldProblems(parsed.data)
    : parsed.error.issues.flatMap(issueLines);
  if (!parsed.success || problems.length > 0) {
    throw new ApiError(
      ApiErrorCode.configInvalid,
      `Fix the server config:\n${problems.map((line) => `  ${line}`).join('\n')}`,
    );
  }
  return resolveConfig(parsed.data, base);
}

function parseDocument(text: string, file: string): unknown {
  const extension = extname(file).toLowerCase();
  if (extension === '.json') {
    return JSON.parse(text) as unknown;
  }
  if (extension === '.yaml' || extension === '.yml') {
    return parseYaml(text, { prettyErrors: true }) as unknown;
  }
  throw new ApiError(
    ApiErrorCode.configUnreadable,
    `Name the config file with .json, .yaml or .yml: "${file}" has neither`,
  );
}

/**
 * Reads, parses and validates the config file at `file`. Throws COFFER_API_CONFIG_UNREADABLE
 * when the file cannot be read or parsed, COFFER_API_CONFIG_INVALID when a field is wrong.
 */
export async function loadServerConfig(file: string): Promise<ServerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ApiError(
      ApiErrorCode.configUnreadable,
      `Check the config file path and permissions: "${file}" cannot be read ` +
        `(${typeof code === 'string' ? code : 'unknown error'})`,
      { cause: error },
    );
  }
  let document: unknown;
  try {
    document = parseDocument(text, file);
  } catch (error) {
    if (error instanceof ApiError) {
      throw error;
    }
    const detail = error instanceof Error ? error.message.split('\n')[0] : 'unknown error';
    throw new ApiError(
      ApiErrorCode.configUnreadable,
      `Fix the syntax of the config file "${file}": ${detail ?? 'unknown error'}`,
      { cause: error },
    );
  }
  return validateServerConfig(document, dirname(resolve(file)));
}
