/**
 * The TLS material of a listener, read from the files its config names (at start and again at
 * each reload, so a rotated certificate is picked up on SIGHUP).
 */
import { readTlsFiles, type TlsFileFields, type TlsFilesLog } from '../tls/tls_files.ts';
import type { TlsMaterial } from '@coffer/core';
import type { ServerConfig } from './config.ts';

/** The server's two listeners. */
export type ListenerName = 'grpc' | 'http';

/**
 * The config fields that name the TLS files `listener` uses. NB: the HTTP listener takes a
 * file the gRPC listener names unless its own field names another, so a file the two share is
 * named by the gRPC field (it is set in the file; the HTTP one may not be).
 */
export function listenerTlsFields(config: ServerConfig, listener: ListenerName): TlsFileFields {
  const { grpc, http } = config.listeners;
  const own = (field: string): string => `listeners.${listener}.${field}`;
  if (listener === 'grpc') {
    return { certFile: own('tls_cert_file'), keyFile: own('tls_key_file') };
  }
  return {
    certFile:
      http.tlsCertFile === grpc.tlsCertFile ? 'listeners.grpc.tls_cert_file' : own('tls_cert_file'),
    keyFile:
      http.tlsKeyFile === grpc.tlsKeyFile ? 'listeners.grpc.tls_key_file' : own('tls_key_file'),
  };
}

/**
 * Reads the certificate and key files of `listener`; throws COFFER_API_TLS_INVALID naming the
 * config field and the file on failure. A certificate close to expiry is logged as a warning.
 */
export function readListenerTls(
  config: ServerConfig,
  options: { readonly listener: ListenerName; readonly log: TlsFilesLog },
): Promise<TlsMaterial> {
  const { tlsCertFile, tlsKeyFile } = config.listeners[options.listener];
  return readTlsFiles({
    certFile: tlsCertFile,
    keyFile: tlsKeyFile,
    log: options.log,
    fields: listenerTlsFields(config, options.listener),
  });
}
