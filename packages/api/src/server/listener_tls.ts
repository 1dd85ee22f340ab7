/**
 * The TLS material of a listener, read from the files its config names (at start and again at
 * each reload, so a rotated certificate is picked up on SIGHUP).
 */
import { readTlsFiles, type TlsFilesLog } from '../tls/tls_files.ts';
import type { TlsMaterial } from '../tls/self_signed.ts';
import type { ServerConfig } from './config.ts';

/** The server's two listeners. */
export type ListenerName = 'grpc' | 'http';

/**
 * Reads the certificate and key files of `listener`; throws COFFER_API_TLS_INVALID naming the
 * file on failure. A certificate close to expiry is logged as a warning.
 */
export function readListenerTls(
  config: ServerConfig,
  options: { readonly listener: ListenerName; readonly log: TlsFilesLog },
): Promise<TlsMaterial> {
  const { tlsCertFile, tlsKeyFile } = config.listeners[options.listener];
  return readTlsFiles({ certFile: tlsCertFile, keyFile: tlsKeyFile, log: options.log });
}
