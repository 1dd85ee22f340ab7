/**
 * Reads a listener's certificate and private key from the files its config names, and checks
 * them before a listener uses them, so a bad file stops the server at start (or keeps the old
 * material at a SIGHUP reload) with a message that names the file (and the config field that
 * names it, when the caller says which) and the fix.
 *
 * Refused (COFFER_API_TLS_INVALID): a missing, unreadable or oversized file; a file that is
 * not PEM; a certificate or key that does not parse (an encrypted key included); a key that
 * does not belong to the certificate; a certificate that has expired. NB: an expired
 * certificate is refused, not warned about: every client would fail its handshake, and a
 * refusal at start names the cause where a handshake failure on the client does not.
 *
 * Warned (the server starts): a certificate that is not valid yet (clock skew), one that
 * expires within {@link certificateExpiryWarningDays} days, and a key file that the group or
 * others may read (Vault does not check this either; the fix is `chmod 600`).
 *
 * Invariant: no message, log field or error cause built here holds key bytes.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

import { ApiError, ApiErrorCode } from '../errors.ts';
import type { TlsMaterial } from '@coffer/core';

/** The two files of a listener's TLS material. */
export interface TlsFiles {
  /** PEM certificate, leaf first, then any intermediates. */
  readonly certFile: string;
  /** PEM private key (PKCS#8, SEC1 or PKCS#1), unencrypted. */
  readonly keyFile: string;
}

/** Where {@link readTlsFiles} reports warnings; ServerLog from @coffer/core fits. */
export interface TlsFilesLog {
  warn(event: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** The config fields that name a listener's two files, e.g. `listeners.grpc.tls_cert_file`. */
export interface TlsFileFields {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Options for {@link readTlsFiles}. */
export interface ReadTlsFilesOptions extends TlsFiles {
  /** Receives the warnings; without it they are dropped. */
  readonly log?: TlsFilesLog;
  /** The clock reading to check validity against (tests); default the real clock. */
  readonly now?: Date;
  /**
   * The config fields that name the files: each message then starts with the field
   * (`listeners.grpc.tls_cert_file: cannot read "<file>": ...`); without them, with
   * `Cannot read TLS certificate file "<file>": ...`.
   */
  readonly fields?: TlsFileFields;
}

/** Days before expiry from which each read logs `tls_certificate_expiring`. */
export const certificateExpiryWarningDays = 30;

/** A PEM file larger than this is not TLS material: refused before it is read into memory. */
export const tlsFileSizeBytesMax = 1024 * 1024;

const dayMs = 24 * 60 * 60 * 1000;

/** One of the two files, as messages name it. */
interface NamedFile {
  readonly path: string;
  readonly what: 'certificate' | 'private key';
  /** The config field naming the file, when the caller gave it. */
  readonly field: string | undefined;
}

/** Why a file is refused: what could not be done with it, and why. */
interface Problem {
  readonly verb: 'read' | 'use';
  /** The reason and the fix, e.g. `it does not exist; create it ...`. */
  readonly text: string;
  readonly cause?: unknown;
}

/**
 * Reads and checks the certificate and key files; returns their PEM text.
 *
 * @throws ApiError COFFER_API_TLS_INVALID naming the file (and its config field) and the fix.
 */
export async function readTlsFiles(options: ReadTlsFilesOptions): Promise<TlsMaterial> {
  const certFile: NamedFile = {
    path: options.certFile,
    what: 'certificate',
    field: options.fields?.certFile,
  };
  const keyFile: NamedFile = {
    path: options.keyFile,
    what: 'private key',
    field: options.fields?.keyFile,
  };
  const certPem = (await readPemFile(certFile)).text;
  const keyRead = await readPemFile(keyFile);
  const cert = parseCertificate(certFile, certPem);
  const key = parsePrivateKey(keyFile, keyRead.text);
  if (!cert.checkPrivateKey(key)) {
    const certField = certFile.field === undefined ? '' : ` (${certFile.field})`;
    throw refusal(keyFile, {
      verb: 'use',
      text:
        `it does not belong to the certificate in "${certFile.path}"${certField}; give the ` +
        'key that was generated with this certificate',
    });
  }
  checkValidity({ cert, certFile, now: options.now ?? new Date(), log: options.log });
  if ((keyRead.mode & 0o077) !== 0) {
    options.log?.warn('tls_key_file_permissions', {
      file: keyFile.path,
      mode: `0${(keyRead.mode & 0o777).toString(8)}`,
      advice: 'Restrict the TLS key file to its owner: chmod 600 <file>',
    });
  }
  return { certPem, keyPem: keyRead.text };
}

async function readPemFile(file: NamedFile): Promise<{ text: string; mode: number }> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(file.path, 'r');
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw refusal(file, { verb: 'read', text: 'it is not a regular file' });
    }
    if (stats.size > tlsFileSizeBytesMax) {
      throw refusal(file, {
        verb: 'read',
        text:
          `it has ${String(stats.size)} bytes, more than ${String(tlsFileSizeBytesMax)}; ` +
          `point the config at a PEM ${file.what} file`,
      });
    }
    return { text: await handle.readFile({ encoding: 'utf8' }), mode: stats.mode };
  } catch (error) {
    if (error instanceof ApiError) {
      throw error;
    }
    throw refusal(file, { verb: 'read', text: fileProblem(error), cause: error });
  } finally {
    await handle?.close();
  }
}

function fileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'it does not exist; create it or fix the path in the config';
    case 'EACCES':
    case 'EPERM':
      return 'this process may not read it; grant the server user read access';
    case 'EISDIR':
      return 'it is a directory; point the config at the PEM file inside it';
    default:
      return `the read failed (${code ?? 'unknown error'}); check the path and the disk`;
  }
}

function parseCertificate(file: NamedFile, pem: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    const hint = pem.includes('PRIVATE KEY-----')
      ? 'it holds a private key; the certificate and key files may be swapped'
      : 'it has no "-----BEGIN CERTIFICATE-----" block; give a PEM certificate (not DER)';
    throw refusal(file, { verb: 'use', text: hint });
  }
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw refusal(file, {
      verb: 'use',
      text: 'its first certificate does not parse; re-export it as PEM',
      cause: error,
    });
  }
}

function parsePrivateKey(file: NamedFile, pem: string): KeyObject {
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(pem)) {
    const hint = pem.includes('-----BEGIN CERTIFICATE-----')
      ? 'it holds a certificate; the certificate and key files may be swapped'
      : 'it has no PEM private key block; give a PEM (PKCS#8) private key, not DER';
    throw refusal(file, { verb: 'use', text: hint });
  }
  if (pem.includes('ENCRYPTED')) {
    throw refusal(file, {
      verb: 'use',
      text:
        'the key is encrypted; decrypt it (openssl pkey -in <file> -out <new file>) and ' +
        'protect the file with chmod 600',
    });
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // NB: no cause: an OpenSSL error about a key is not worth the risk of echoing its bytes.
    throw refusal(file, { verb: 'use', text: 'the key does not parse; re-export it' });
  }
}

function checkValidity(check: {
  cert: X509Certificate;
  certFile: NamedFile;
  now: Date;
  log: TlsFilesLog | undefined;
}): void {
  const { cert, now, log } = check;
  const certFile = check.certFile.path;
  const validToMs = Date.parse(cert.validTo);
  const validFromMs = Date.parse(cert.validFrom);
  if (validToMs <= now.getTime()) {
    throw refusal(check.certFile, {
      verb: 'use',
      text:
        `it expired at ${new Date(validToMs).toISOString()}; renew the certificate and ` +
        'reload (SIGHUP)',
    });
  }
  if (validFromMs > now.getTime()) {
    log?.warn('tls_certificate_not_yet_valid', {
      file: certFile,
      validFrom: new Date(validFromMs).toISOString(),
      advice: 'Check the clocks of this host and of the issuer; clients will refuse it until then',
    });
  }
  const daysLeft = Math.floor((validToMs - now.getTime()) / dayMs);
  if (daysLeft < certificateExpiryWarningDays) {
    log?.warn('tls_certificate_expiring', {
      file: certFile,
      validTo: new Date(validToMs).toISOString(),
      daysLeft,
      advice: 'Renew the certificate and reload the server (SIGHUP)',
    });
  }
}

/**
 * COFFER_API_TLS_INVALID for `file`: `<field>: cannot read "<path>": <text>` when the config
 * field is known, else `Cannot read TLS <what> file "<path>": <text>`.
 */
function refusal(file: NamedFile, problem: Problem): ApiError {
  const message =
    file.field === undefined
      ? `Cannot ${problem.verb} TLS ${file.what} file "${file.path}": ${problem.text}`
      : `${file.field}: cannot ${problem.verb} "${file.path}": ${problem.text}`;
  return new ApiError(
    ApiErrorCode.tlsInvalid,
    message,
    problem.cause === undefined ? {} : { cause: problem.cause },
  );
}
