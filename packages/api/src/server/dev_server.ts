/**
 * Dev mode (`coffer server --dev`), like Vault's: one node in a fresh temporary directory with a
 * self-signed certificate, initialized with a single share, unsealed, with KV v2 mounted at
 * `secret/`, ready to play with at once. Nothing survives it: the directory is removed at exit.
 *
 *   mkdtemp (0700) ─▶ self-signed cert ─▶ CofferServer.start ─▶ leader ─▶ sys/init (1 of 1)
 *     ─▶ sys/unseal ─▶ sys/mounts/secret (kv) ─▶ root-token (0600), ca.pem ─▶ printout
 *
 * Invariant: the root token goes to one 0600 file and nowhere else: not to stdout, the log or
 * an error. The single unseal share is kept nowhere (dev mode is for play: a restarted dev
 * server starts from scratch). The TLS key stays in memory; only the certificate is written.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { CofferNode, CoreRequest, CoreResponse, CoreSuccess, ServerLog } from '@coffer/core';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { createSelfSignedTls, type TlsMaterial } from '@coffer/core';
import { CofferServer, waitForLeadership, type CofferServerOptions } from './coffer_server.ts';
import { serverLimitsDefault, type ServerConfig } from './config.ts';
import { graphqlSettingsDefault } from '../graphql/graphql_endpoint.ts';

/** Where the dev server listens unless told otherwise (PRODUCT.md ports). */
export const devAddressesDefault = { grpc: '127.0.0.1:8200', http: '127.0.0.1:8300' } as const;

/** Options of {@link DevServer.start}. */
export interface DevServerOptions {
  /** `host:port` of the gRPC listener (port 0: any free port). */
  readonly grpcAddress?: string;
  /** `host:port` of the HTTP listener (port 0: any free port). */
  readonly httpAddress?: string;
  /** The server log; default JSON lines to stderr. */
  readonly log?: ServerLog;
  /** How long to wait for the node to become leader and set up. Default 30 s. */
  readonly setupDeadlineMs?: number;
  /** Starts the listeners (tests inject their own). */
  readonly listeners?: CofferServerOptions['listeners'];
}

/** The files a dev server writes for its operator. */
export interface DevServerFiles {
  /** The temporary directory holding everything; removed at close. */
  readonly dir: string;
  /** The root token, mode 0600. */
  readonly tokenFile: string;
  /** The self-signed certificate, which is its own CA. */
  readonly caCertFile: string;
}

const setupDeadlineMsDefault = 30_000;

function splitAddress(address: string, what: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(address);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || match[1] === '' || port > 65_535) {
    throw new ApiError(
      ApiErrorCode.devSetupFailed,
      `Pass ${what} as "host:port" with a port from 0 to 65535 (got "${address}")`,
    );
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function devConfig(dir: string, options: DevServerOptions): ServerConfig {
  const grpc = splitAddress(
    options.grpcAddress ?? devAddressesDefault.grpc,
    '--dev-listen-address',
  );
  const http = splitAddress(options.httpAddress ?? devAddressesDefault.http, '--dev-http-address');
  const tls = { tlsCertFile: join(dir, 'ca.pem'), tlsKeyFile: '(in memory)' };
  return {
    nodeId: 1,
    storagePath: join(dir, 'data'),
    listeners: { grpc: { ...grpc, ...tls }, http: { ...http, ...tls } },
    seal: { type: 'shamir' },
    audit: [],
    limits: serverLimitsDefault,
    metricsUnauthenticated: false,
    grpcReflection: true,
    // NB: dev mode answers introspection, as it serves gRPC reflection, for tools like GraphiQL.
    graphql: { ...graphqlSettingsDefault, introspection: true },
    log: { level: 'info' },
  };
}

function failed(step: string, response: CoreResponse): ApiError {
  const code = response.ok ? 'no data' : response.code;
  return new ApiError(
    ApiErrorCode.devSetupFailed,
    `Restart the dev server: its ${step} failed (${code}); the server log has details`,
  );
}

async function call(node: CofferNode, step: string, request: CoreRequest): Promise<CoreSuccess> {
  const response = await node.handle(request);
  if (!response.ok) {
    throw failed(step, response);
  }
  return response;
}

/** Initializes with one share, unseals, mounts KV v2 at secret/; returns the root token. */
async function initializeDev(node: CofferNode): Promise<string> {
  const init = await call(node, 'init', {
    operation: 'update',
    path: 'sys/init',
    data: { secret_shares: 1, secret_threshold: 1 },
  });
  const keys = init.data?.['keys'];
  const token = init.data?.['root_token'];
  if (!Array.isArray(keys) || typeof keys[0] !== 'string' || typeof token !== 'string') {
    throw failed('init', init);
  }
  await call(node, 'unseal', { operation: 'update', path: 'sys/unseal', data: { key: keys[0] } });
  await call(node, 'mount of secret/', {
    operation: 'update',
    path: 'sys/mounts/secret',
    data: { type: 'kv', description: 'KV v2, mounted by dev mode' },
    token,
  });
  return token;
}

/** A running dev server. */
export class DevServer {
  readonly server: CofferServer;
  readonly files: DevServerFiles;
  #closing: Promise<void> | undefined;

  private constructor(server: CofferServer, files: DevServerFiles) {
    this.server = server;
    this.files = files;
  }

  /** Starts, initializes, unseals and mounts; on any failure removes what it made and throws. */
  static async start(options: DevServerOptions): Promise<DevServer> {
    const dir = await mkdtemp(join(tmpdir(), 'coffer-dev-'));
    let server: CofferServer | undefined;
    try {
      const config = devConfig(dir, options);
      const tls: TlsMaterial = await createSelfSignedTls({ hosts: ['localhost', '127.0.0.1'] });
      const files = { dir, tokenFile: join(dir, 'root-token'), caCertFile: join(dir, 'ca.pem') };
      await writeFile(files.caCertFile, tls.certPem, { mode: 0o644 });
      server = await CofferServer.start(config, {
        ...(options.log === undefined ? {} : { log: options.log }),
        loadTls: () => Promise.resolve(tls),
        ...(options.listeners === undefined ? {} : { listeners: options.listeners }),
      });
      const deadlineMs = options.setupDeadlineMs ?? setupDeadlineMsDefault;
      if (!(await waitForLeadership(server.node, { nodeId: 1, deadlineMs }))) {
        throw new ApiError(
          ApiErrorCode.devSetupFailed,
          `Restart the dev server: the node did not become leader within ${deadlineMs} ms`,
        );
      }
      const token = await initializeDev(server.node);
      await writeFile(files.tokenFile, `${token}\n`, { mode: 0o600, flag: 'wx' });
      return new DevServer(server, files);
    } catch (error) {
      await server?.close(0);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** What an operator needs, for stdout: addresses, file paths, example commands; no secret. */
  describe(): string {
    const { grpc, http } = this.server.addresses();
    const { tokenFile, caCertFile } = this.files;
    return [
      'Coffer dev server: one node with its data in a temporary directory, unsealed.',
      'WARNING: dev mode is for play. Its data, unseal share and root token are gone at exit.',
      '',
      `  gRPC API:     ${grpc} (TLS)`,
      `  HTTP:         https://${http} (health, seal status, metrics)`,
      `  CA cert:      ${caCertFile}`,
      `  Root token:   in ${tokenFile} (mode 0600; never printed)`,
      '  KV v2 is mounted at secret/.',
      '',
      'Try it (from a checkout of the repository, run coffer as npx coffer):',
      `  export COFFER_ADDR=${grpc} COFFER_CACERT=${caCertFile}`,
      '  coffer status',
      `  coffer kv put secret/hello greeting=world --token-file ${tokenFile}`,
      `  coffer kv get secret/hello --token-file ${tokenFile}`,
      '',
    ].join('\n');
  }

  /** Closes the server (graceful, within graceMs) and removes the temporary directory. */
  close(graceMs?: number): Promise<void> {
    this.#closing ??= this.#closeNow(graceMs);
    return this.#closing;
  }

  async #closeNow(graceMs: number | undefined): Promise<void> {
    try {
      await this.server.close(graceMs);
    } finally {
      await rm(this.files.dir, { recursive: true, force: true });
    }
  }
}
