/**
 * One connection to a server: the parsed address, the TLS channel and the service definitions,
 * shared by a {@link CofferClient} and every client its `withToken` makes.
 */
import { X509Certificate } from 'node:crypto';

import { parseServerAddress } from './address.ts';
import type { CofferClientOptions } from './client_api.ts';
import { ClientErrorCode, CofferClientError } from './errors.ts';
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

/** A TLS channel to one server and what calls on it need. */
export class ClientConnection {
  /** The address as the caller gave it, for messages. */
  readonly address: string;
  readonly transport: GrpcTransport;
  readonly services: CofferServiceDefinitions;
  #closed = false;

  /** Checks the address and CA certificate, then opens the channel (lazily). */
  constructor(options: CofferClientOptions) {
    const target = parseServerAddress(options.address).target;
    this.address = options.address;
    this.transport = new GrpcTransport({
      target,
      caCert: caCertBytes(options.caCert),
      ...(options.serverName === undefined ? {} : { serverName: options.serverName }),
    });
    this.services = loadServices();
  }

  /** True once {@link close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the channel; idempotent. */
  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.transport.close();
    }
  }
}
