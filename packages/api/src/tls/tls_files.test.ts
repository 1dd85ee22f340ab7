/**
 * Goal: readTlsFiles returns good material unchanged and refuses each kind of bad file with
 * COFFER_API_TLS_INVALID and a message that names the file and the fix; it warns (and still
 * returns) for a key file others may read and for a certificate near its end or not valid
 * yet; no message or warning ever holds key bytes.
 * Method: real files in a fresh temp directory, made from createSelfSignedTls with fixed
 * clock readings; warnings are captured by a recording log; the key's base64 body is searched
 * for in every message, cause and log line.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import { createSelfSignedTls, type TlsMaterial } from '@coffer/core';
import { readTlsFiles, type ReadTlsFilesOptions } from './tls_files.ts';

const now = new Date('2026-06-01T00:00:00Z');
const dayMs = 24 * 60 * 60 * 1000;
let dir: string;
let good: TlsMaterial;
let other: TlsMaterial;
let fileIndex = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'coffer-tls-files-'));
  good = await createSelfSignedTls({ hosts: ['localhost'], now, validDays: 365 });
  other = await createSelfSignedTls({ hosts: ['localhost'], now, validDays: 365 });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(text: string | Buffer, mode = 0o600): string {
  fileIndex += 1;
  const path = join(dir, `file-${String(fileIndex)}.pem`);
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return path;
}

interface Warning {
  readonly event: string;
  readonly fields: Readonly<Record<string, unknown>> | undefined;
}

function recordingLog(): { warnings: Warning[]; warn: (event: string, fields?: object) => void } {
  const warnings: Warning[] = [];
  return {
    warnings,
    warn(event, fields) {
      warnings.push({ event, fields: fields as Warning['fields'] });
    },
  };
}

function keyBody(material: TlsMaterial): string {
  return material.keyPem.split('\n')[1] ?? 'unreachable';
}

/** Runs readTlsFiles expecting a refusal; returns the message after checking code and secrecy. */
async function refusal(options: ReadTlsFilesOptions): Promise<string> {
  const error: unknown = await readTlsFiles({ now, ...options }).then(
    () => new Error('readTlsFiles accepted the files'),
    (caught: unknown) => caught,
  );
  expect(error).toMatchObject({ code: ApiErrorCode.tlsInvalid });
  const text = `${String(error)} ${String((error as Error).cause)}`;
  expect(text).not.toContain(keyBody(good));
  expect(text).not.toContain(keyBody(other));
  return (error as Error).message;
}

describe('readTlsFiles', () => {
  it('readTlsFiles returns the PEM text of a matching certificate and key', async () => {
    const log = recordingLog();
    const material = await readTlsFiles({
      certFile: file(good.certPem, 0o644),
      keyFile: file(good.keyPem),
      now,
      log,
    });
    expect(material).toEqual({ certPem: good.certPem, keyPem: good.keyPem });
    expect(log.warnings).toEqual([]);
  });

  it('readTlsFiles refuses a missing file and names it', async () => {
    const missing = join(dir, 'missing.pem');
    const message = await refusal({ certFile: missing, keyFile: file(good.keyPem) });
    expect(message).toContain(`"${missing}"`);
    expect(message).toContain('does not exist');
  });

  it('readTlsFiles refuses a directory in place of a file', async () => {
    const message = await refusal({ certFile: file(good.certPem), keyFile: dir });
    expect(message).toMatch(/key file ".*": it is not a regular file/);
  });

  it('readTlsFiles refuses a certificate file that is not PEM', async () => {
    const message = await refusal({
      certFile: file(Buffer.from([0x30, 0x82, 0x01, 0x00])),
      keyFile: file(good.keyPem),
    });
    expect(message).toContain('no "-----BEGIN CERTIFICATE-----" block');
  });

  it('readTlsFiles refuses a PEM block that does not parse', async () => {
    const broken = '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n';
    const message = await refusal({ certFile: file(broken), keyFile: file(good.keyPem) });
    expect(message).toContain('does not parse');
  });

  it('readTlsFiles says the files look swapped when they are', async () => {
    const certFile = file(good.certPem);
    const keyFile = file(good.keyPem);
    const message = await refusal({ certFile: keyFile, keyFile: certFile });
    expect(message).toContain('may be swapped');
  });

  it('readTlsFiles refuses a key that does not parse without echoing it', async () => {
    const broken = good.keyPem.replace(/\n[A-Za-z0-9+/]{8}/, '\n!!!!!!!!');
    const message = await refusal({ certFile: file(good.certPem), keyFile: file(broken) });
    expect(message).toContain('the key does not parse');
  });

  it('readTlsFiles refuses an encrypted key', async () => {
    const encrypted = good.keyPem.replaceAll('PRIVATE KEY', 'ENCRYPTED PRIVATE KEY');
    const message = await refusal({ certFile: file(good.certPem), keyFile: file(encrypted) });
    expect(message).toContain('the key is encrypted');
  });

  it('readTlsFiles refuses a key that belongs to another certificate', async () => {
    const keyFile = file(other.keyPem);
    const message = await refusal({ certFile: file(good.certPem), keyFile });
    expect(message).toContain(`"${keyFile}": it does not belong to the certificate`);
  });

  it('readTlsFiles starts each message with the config field of the file when given it', async () => {
    const fields = {
      certFile: 'listeners.grpc.tls_cert_file',
      keyFile: 'listeners.grpc.tls_key_file',
    };
    const missing = join(dir, 'missing.pem');
    const absent = await refusal({ certFile: missing, keyFile: file(good.keyPem), fields });
    expect(absent.split(': it does not exist')[0]).toBe(
      `listeners.grpc.tls_cert_file: cannot read "${missing}"`,
    );
    const certFile = file(good.certPem);
    const keyFile = file(other.keyPem);
    const foreign = await refusal({ certFile, keyFile, fields });
    expect(foreign).toContain(
      `listeners.grpc.tls_key_file: cannot use "${keyFile}": it does not belong to the ` +
        `certificate in "${certFile}" (listeners.grpc.tls_cert_file)`,
    );
    const swapped = await refusal({ certFile: keyFile, keyFile: certFile, fields });
    expect(swapped).toMatch(
      /^listeners\.grpc\.tls_cert_file: cannot use ".*": it holds a private key/,
    );
  });

  it('readTlsFiles refuses an expired certificate', async () => {
    const old = await createSelfSignedTls({ hosts: ['localhost'], now, validDays: 1 });
    const certFile = file(old.certPem);
    const message = await refusal({
      certFile,
      keyFile: file(old.keyPem),
      now: new Date(now.getTime() + 2 * dayMs),
    });
    expect(message).toContain(`"${certFile}": it expired at`);
    expect(message).toContain('renew the certificate');
  });

  it('readTlsFiles refuses a file above the size bound', async () => {
    const huge = `${good.certPem}${'#'.repeat(1024 * 1024)}`;
    const message = await refusal({ certFile: file(huge), keyFile: file(good.keyPem) });
    expect(message).toContain('more than 1048576');
  });

  it('readTlsFiles warns about a key file that others may read', async () => {
    const log = recordingLog();
    const keyFile = file(good.keyPem, 0o644);
    await readTlsFiles({ certFile: file(good.certPem), keyFile, now, log });
    expect(log.warnings).toEqual([
      {
        event: 'tls_key_file_permissions',
        fields: expect.objectContaining({ file: keyFile, mode: '0644' }) as unknown,
      },
    ]);
    expect(JSON.stringify(log.warnings)).not.toContain(keyBody(good));
  });

  it('readTlsFiles warns about a certificate near its end and one not valid yet', async () => {
    const log = recordingLog();
    const files = { certFile: file(good.certPem), keyFile: file(good.keyPem) };
    await readTlsFiles({ ...files, now: new Date(now.getTime() + 360 * dayMs), log });
    await readTlsFiles({ ...files, now: new Date(now.getTime() - 1 * dayMs), log });
    expect(log.warnings.map((warning) => warning.event)).toEqual([
      'tls_certificate_expiring',
      'tls_certificate_not_yet_valid',
    ]);
    expect(log.warnings[0]?.fields).toMatchObject({ daysLeft: 5 });
  });
});
