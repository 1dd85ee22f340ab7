/**
 * The connection to a server or a cluster: the parsed addresses, one TLS channel per address
 * (opened on first use), the address that answered last (where the next call starts) and the
 * service definitions, shared by a {@link CofferClient} and every client its `withToken` makes.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';

import { parseServerAddress } from './address.ts';
import type { CofferClientOptions } from './client_api.ts';
import { ClientErrorCode, CofferClientError } from './errors.ts';
import { systemFailoverTiming, type FailoverTiming } from './failover.ts';
import { GrpcTransport } from './grpc_transport.ts';
import { loadCofferPackageDefinition } from './proto_definition.ts';
import { cofferServiceDefinitions, type CofferServiceDefinitions } from './service_definitions.ts';

/** NB: loaded once per process; parsing the .proto files takes a few milliseconds. */
let servicesLoaded: CofferServiceDefinitions | undefined;

function loadServices(): CofferServiceDefinitions {
  servicesLoaded ??= cofferServiceDefinitions(loadCofferPackageDefinition());
  return servicesLoaded;
}

function caCertBytes(caCert: string | Uint8Array): Buffer {
  const bytes = typeof caCert === 'string' ? Buffer.from(caCert, 'utf8') : Buffer.from(caCert);
  try {
    // NB: grpc-js accepts anything here and fails at the handshake; check the PEM up front.
    new X509Certificate(bytes);
  } catch (error) {
    throw new CofferClientError(
      ClientErrorCode.invalidCaCert,
      'Give the PEM certificate of the CA that signed the server certificate ' +
        '(--ca-cert or COFFER_CACERT): the CA certificate given does not parse',
      { cause: error },
    );
  }
  return bytes;
}

function invalidAddresses(message: string): CofferClientError {
  return new CofferClientError(ClientErrorCode.invalidAddress, message);
}

/**
 * The address list of `options`: `addresses`, or `[address]`. Throws
 * COFFER_CLIENT_INVALID_ADDRESS when both or neither are given, the list is empty, or it names
 * one server twice.
 */
function addressListOf(options: CofferClientOptions): readonly string[] {
  const { address, addresses } = options;
  if (address !== undefined && addresses !== undefined) {
    throw invalidAddresses(
      'Give the server as "address" or the cluster as "addresses", not both: the client ' +
        'options hold both',
    );
  }
  const list = addresses ?? (address === undefined ? [] : [address]);
  if (list.length === 0) {
    throw invalidAddresses(
      'Give at least one server address as host:port or https://host:port (e.g. ' +
        '127.0.0.1:8200): the client options hold none',
    );
  }
  return [...list];
}

/** The channel to one address, opened on first use. */
interface Endpoint {
  /** The address as the caller gave it, for messages. */
  readonly address: string;
  readonly target: string;
  transport: GrpcTransport | undefined;
}

/** What a connection needs besides the client options; tests pass a fake timing. */
export interface ConnectionSettings {
  readonly timing?: FailoverTiming;
}

/** The TLS channels to a server or to every node of a cluster, and what calls need. */
export class ClientConnection {
  /** The addresses as the caller gave them, in order. */
  readonly addresses: readonly string[];
  readonly services: CofferServiceDefinitions;
  /** The clock, timer and random source of failover. */
  readonly timing: FailoverTiming;
  readonly #endpoints: readonly Endpoint[];
  readonly #caCert: Buffer;
  readonly #serverName: string | undefined;
  #preferredIndex = 0;
  #closed = false;

  /** Checks the addresses and CA certificate; opens no channel yet. */
  constructor(options: CofferClientOptions, settings: ConnectionSettings = {}) {
    this.addresses = addressListOf(options);
    const targets = new Set<string>();
    this.#endpoints = this.addresses.map((address) => {
      const target = parseServerAddress(address).target;
      if (targets.has(target)) {
        throw invalidAddresses(
          `Give each server address once: "${address}" names the server "${target}" again`,
        );
      }
      targets.add(target);
      return { address, target, transport: undefined };
    });
    this.#caCert = caCertBytes(options.caCert);
    this.#serverName = options.serverName;
    this.timing = settings.timing ?? systemFailoverTiming;
    this.services = loadServices();
  }

  /**
   * The index of the address the next call starts at: the one that answered last (0 before any
   * answer).
   */
  get preferredIndex(): number {
    return this.#preferredIndex;
  }

  /** The address the next call starts at, as given. */
  get preferredAddress(): string {
    return this.addressAt(this.#preferredIndex);
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The address at `index`, as given. */
  addressAt(index: number): string {
    const endpoint = this.#endpoints[index];
    assert(endpoint !== undefined, `no address at index ${index}`);
    return endpoint.address;
  }

  /** Remembers that the address at `index` answered, so the next call starts there. */
  answeredAt(index: number): void {
    assert(index >= 0 && index < this.#endpoints.length, `no address at index ${index}`);
    this.#preferredIndex = index;
  }

  /** The channel to the address at `index`, opened now if it was not. Not after close. */
  transportAt(index: number): GrpcTransport {
    const endpoint = this.#endpoints[index];
    assert(endpoint !== undefined, `no address at index ${index}`);
    // Invariant: no channel opens after close, so close() has closed every channel.
    assert(!this.#closed, 'the connection is closed');
    endpoint.transport ??= new GrpcTransport({
      target: endpoint.target,
      caCert: this.#caCert,
      ...(this.#serverName === undefined ? {} : { serverName: this.#serverName }),
    });
    return endpoint.transport;
  }

  /** Closes every channel opened; idempotent. */
  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      for (const endpoint of this.#endpoints) {
        endpoint.transport?.close();
      }
    }
  }
}
