/**
 * Goal: startListener rewords a listener's start failure so that it names the config field it
 * comes from (the address, or the TLS file fields), with the cause kept and the code unchanged,
 * and leaves other failures as they are.
 * Method: fake listener factories that throw the errors GrpcApiServer and HttpListener throw
 * (grpc-js reports bind errors as text, node:net as an errno code); no socket is opened.
 */
import { describe, expect, it } from 'vitest';

import { ApiError, ApiErrorCode } from '../errors.ts';
import { validateServerConfig } from './config.ts';
import type { ListenerName } from './listener_tls.ts';
import { startListener, type ListenerFactories, type ListenerStart } from './server_listeners.ts';

const config = validateServerConfig(
  {
    node_id: 1,
    storage: { path: 'data' },
    listeners: {
      grpc: { address: '[::1]:8200', tls_cert_file: 'c.pem', tls_key_file: 'k.pem' },
      http: { address: '0.0.0.0:8300', tls_cert_file: 'h.pem' },
    },
  },
  '/etc/coffer',
);

/** What startListener throws when the `name` factory throws `error`. */
async function failure(name: ListenerName, error: Error): Promise<unknown> {
  const throwing = (): Promise<never> => Promise.reject(error);
  const factories: ListenerFactories = { grpc: throwing, http: throwing };
  const start = { config } as unknown as ListenerStart;
  return startListener(factories, name, start).then(
    () => new Error('expected a rejection'),
    (caught: unknown) => caught,
  );
}

function listenFailed(cause: unknown): ApiError {
  return new ApiError(ApiErrorCode.listenFailed, 'could not be bound', { cause });
}

describe('startListener', () => {
  it('startListener names the address field and the reason of a bind failure', async () => {
    const grpcCause = new Error(
      'No address added out of total 1 resolved errors: [listen EADDRNOTAVAIL: x]',
    );
    const grpc = await failure('grpc', listenFailed(grpcCause));
    expect(grpc).toMatchObject({
      code: ApiErrorCode.listenFailed,
      message:
        'listeners.grpc.address: cannot listen on "[::1]:8200": no interface of this host has ' +
        'that address; give one of its addresses or 0.0.0.0',
    });
    const httpCause = Object.assign(new Error('listen EACCES'), { code: 'EACCES' });
    const http = await failure('http', listenFailed(httpCause));
    expect((http as Error).message).toMatch(
      /^listeners\.http\.address: cannot listen on "0\.0\.0\.0:8300": this process may not bind/,
    );
    expect((http as Error).cause).toBeInstanceOf(ApiError);
  });

  it('startListener says when the host does not resolve', async () => {
    const cause = new Error('Name resolution failed for target dns:nohost.invalid:8200');
    const error = await failure('grpc', listenFailed(cause));
    expect((error as Error).message).toContain('its host does not resolve');
  });

  it('startListener names the TLS file fields of material the listener refuses', async () => {
    const refused = new ApiError(ApiErrorCode.tlsInvalid, 'Check the TLS key and certificate');
    const error = await failure('http', refused);
    expect(error).toMatchObject({
      code: ApiErrorCode.tlsInvalid,
      message:
        'listeners.http.tls_cert_file, listeners.grpc.tls_key_file: Check the TLS key and ' +
        'certificate',
    });
  });

  it('startListener leaves other failures as they are', async () => {
    const other = new Error('boom');
    expect(await failure('grpc', other)).toBe(other);
  });
});
