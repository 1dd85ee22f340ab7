/**
 * What a command needs from the world, passed in so the command tree runs in-process in tests:
 * the output streams (CliIo), standard input, the environment, the home directory (where
 * `coffer login` keeps its token file) and the factory of the client that reaches the server.
 * main.ts builds the real one (node_context.ts); tests pass buffers and a client double.
 */
import type {
  AuditApi,
  AuthApi,
  CofferClientOptions,
  KvApi,
  LeasesApi,
  LogicalApi,
  MountsApi,
  PoliciesApi,
  SystemApi,
} from '@coffer/client';

import type { CliIo } from './cli_io.ts';

/** The client surface the CLI uses: the services of `CofferClient` (@coffer/client). */
export interface CliClient {
  readonly sys: SystemApi;
  readonly auth: AuthApi;
  readonly kv: KvApi;
  readonly policies: PoliciesApi;
  readonly leases: LeasesApi;
  readonly audit: AuditApi;
  readonly mounts: MountsApi;
  readonly logical: LogicalApi;
  /** Closes the channel. */
  close(): void;
}

/** Standard input, as the commands read it. */
export interface CliInput {
  /** True when stdin is a terminal (secrets are then asked for with echo off). */
  readonly isTty: boolean;
  /** Reads stdin to its end. */
  readAll(): Promise<string>;
  /** Reads one line (without its line end); undefined at end of input with nothing read. */
  readLine(): Promise<string | undefined>;
  /** Terminal only: writes `prompt` to stderr and reads a line with echo off. */
  readHidden(prompt: string): Promise<string | undefined>;
}

/** Everything a command touches besides the file system. */
export interface CliContext extends CliIo {
  readonly input: CliInput;
  /** The environment (COFFER_ADDR, COFFER_CACERT, COFFER_TOKEN are read from it). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where `coffer login` writes `.coffer-token`. */
  readonly homeDirectory: string;
  /** Opens a client; the command closes it when done. */
  readonly createClient: (options: CofferClientOptions) => CliClient;
}
