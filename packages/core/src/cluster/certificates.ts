/**
 * Self-signed TLS material for dev mode and tests, and the certificate authority of the cluster
 * port: a CA and the node certificates it issues for mutual TLS between nodes.
 *
 * Keys are ECDSA P-256 (fast to generate, small handshakes); certificates are X.509 v3 built
 * with @peculiar/x509 over node:crypto's WebCrypto. Nothing here touches the file system: the
 * caller decides where the PEM strings go (dev mode writes the certificate, never the key, to a
 * file whose path it prints).
 */
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

import { nodeIdentityUri } from './node_identity_uri.ts';

/** A certificate and its private key, both PEM (the key as unencrypted PKCS#8). */
export interface TlsMaterial {
  /** The certificate, `-----BEGIN CERTIFICATE-----`, ending with a newline. */
  readonly certPem: string;
  /** The private key, PKCS#8 PEM ending with a newline. Secret. */
  readonly keyPem: string;
}

/** Options for {@link createSelfSignedTls} and {@link issueCertificate}. */
export interface CertificateOptions {
  /** DNS names and IP addresses the certificate is valid for, e.g. ["localhost","127.0.0.1"]. */
  readonly hosts: readonly string[];
  /** Validity from `now`; default {@link certificateValidDaysDefault}. */
  readonly validDays?: number;
  /** The clock reading to start validity from (tests pass a fixed date); default the real clock. */
  readonly now?: Date;
}

/** Options for {@link createCertificateAuthority}. */
export interface CertificateAuthorityOptions {
  /** The CA's subject common name; default "Coffer CA". */
  readonly commonName?: string;
  /** Validity from `now`; default {@link certificateValidDaysDefault}. */
  readonly validDays?: number;
  /** The clock reading to start validity from; default the real clock. */
  readonly now?: Date;
}

/** Default validity of generated certificates: one year, like Vault's dev-mode certificate. */
export const certificateValidDaysDefault = 365;

/** NB: validity starts this far in the past so a peer whose clock lags a little accepts it. */
const clockSkewAllowanceMs = 5 * 60 * 1000;
const dayMs = 24 * 60 * 60 * 1000;
const keyAlgorithm = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** NB: @peculiar/x509's types name DOM globals (Crypto, CryptoKey) that lib ES2023 lacks. */
const crypto: webcrypto.Crypto = webcrypto;

/**
 * Creates an ECDSA P-256 key and a self-signed certificate for `hosts`.
 *
 * The certificate is its own trust anchor: CA:true with keyCertSign, so a client that trusts
 * only this certificate (`ca: certPem`) verifies the server, and serverAuth + clientAuth, so the
 * same material also serves as a client certificate in tests.
 */
export async function createSelfSignedTls(options: CertificateOptions): Promise<TlsMaterial> {
  const validity = validityOf(options);
  const keys = await generateKeys();
  const usages = keyUsages(x509.KeyUsageFlags.digitalSignature, x509.KeyUsageFlags.keyCertSign);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: subjectName(options.hosts[0] ?? 'Coffer'),
      ...validity,
      keys,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(usages, true),
        new x509.ExtendedKeyUsageExtension(
          [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        subjectAltNames(options.hosts),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: certificatePem(cert), keyPem: privateKeyPem(keys.privateKey) };
}

/**
 * Creates a certificate authority: an ECDSA P-256 key and a self-signed CA certificate that
 * signs leaf certificates only (pathLength 0, keyCertSign + cRLSign, no extended key usage).
 */
export async function createCertificateAuthority(
  options: CertificateAuthorityOptions = {},
): Promise<TlsMaterial> {
  const validity = validityOf(options);
  const keys = await generateKeys();
  const usages = keyUsages(x509.KeyUsageFlags.keyCertSign, x509.KeyUsageFlags.cRLSign);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialNumber(),
      name: subjectName(options.commonName ?? 'Coffer CA'),
      ...validity,
      keys,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(usages, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: certificatePem(cert), keyPem: privateKeyPem(keys.privateKey) };
}

/**
 * Issues a leaf certificate for `hosts` signed by `authority` (from
 * {@link createCertificateAuthority}), with a fresh ECDSA P-256 key: CA:false,
 * digitalSignature, serverAuth + clientAuth, so a node uses it on both ends of mutual TLS.
 */
export async function issueCertificate(
  authority: TlsMaterial,
  options: CertificateOptions,
): Promise<TlsMaterial> {
  const keys = await generateKeys();
  const certPem = await signLeaf(authority, keys.publicKey, {
    commonName: options.hosts[0] ?? 'Coffer',
    validity: validityOf(options),
    altNames: subjectAltNames(options.hosts),
  });
  return { certPem, keyPem: privateKeyPem(keys.privateKey) };
}

/**
 * Signs a leaf for `publicKey` under `authority`: CA:false, digitalSignature, serverAuth +
 * clientAuth (a node uses one certificate on both ends of mutual TLS), the given names.
 */
async function signLeaf(
  authority: TlsMaterial,
  publicKey: webcrypto.CryptoKey,
  leaf: {
    readonly commonName: string;
    readonly validity: { readonly notBefore: Date; readonly notAfter: Date };
    readonly altNames: x509.SubjectAlternativeNameExtension;
  },
): Promise<string> {
  const caCert = new x509.X509Certificate(authority.certPem);
  const caKey = await importPrivateKey(authority.keyPem);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject: subjectName(leaf.commonName),
      issuer: caCert.subject,
      ...leaf.validity,
      publicKey,
      signingKey: caKey,
      signingAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension(
          [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
          false,
        ),
        leaf.altNames,
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
      ],
    },
    crypto,
  );
  return certificatePem(cert);
}

/** Options for {@link issueNodeCertificate}. */
export interface NodeCertificateOptions {
  /** The cluster the node belongs to (its init's cluster id). */
  readonly clusterId: string;
  /** The node's Raft id. */
  readonly nodeId: number;
  /** How long the certificate is valid from `now`, in ms. */
  readonly validMs: number;
  /** The clock reading to start validity from; default the real clock. */
  readonly now?: Date;
}

/**
 * Issues a node's certificate for the cluster port: a fresh ECDSA P-256 key, signed by the
 * cluster CA, naming the node only by the URI SAN `coffer://<cluster id>/node/<node id>`.
 *
 * NB: no DNS name or IP address: peers check the identity in the URI (peer_verification.ts),
 * never an address, so nodes move between addresses without new certificates and operators
 * never put node IPs into certificates.
 */
export async function issueNodeCertificate(
  authority: TlsMaterial,
  options: NodeCertificateOptions,
): Promise<TlsMaterial> {
  const keys = await generateKeys();
  const certPem = await signNodeCertificate(authority, keys.publicKey, options);
  return { certPem, keyPem: privateKeyPem(keys.privateKey) };
}

/**
 * Certifies a key a joining node made and kept (its public key, SPKI PEM, ECDSA P-256 only)
 * the same way: the private key never leaves the joiner.
 */
export async function certifyNodeKey(
  authority: TlsMaterial,
  publicKeyPem: string,
  options: NodeCertificateOptions,
): Promise<string> {
  const spki = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  const publicKey = await crypto.subtle.importKey('spki', spki, keyAlgorithm, true, ['verify']);
  return await signNodeCertificate(authority, publicKey, options);
}

async function signNodeCertificate(
  authority: TlsMaterial,
  publicKey: webcrypto.CryptoKey,
  options: NodeCertificateOptions,
): Promise<string> {
  assert.ok(Number.isSafeInteger(options.validMs) && options.validMs > 0, 'validMs must be > 0');
  const nowMs = (options.now ?? new Date()).getTime();
  const uri = nodeIdentityUri(options.clusterId, options.nodeId);
  return await signLeaf(authority, publicKey, {
    commonName: `coffer-node-${options.nodeId}`,
    validity: {
      notBefore: new Date(nowMs - clockSkewAllowanceMs),
      notAfter: new Date(nowMs + options.validMs),
    },
    // NB: critical, as the subject names nothing a client would check.
    altNames: new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }], true),
  });
}

function validityOf(options: { validDays?: number; now?: Date }): {
  notBefore: Date;
  notAfter: Date;
} {
  const validDays = options.validDays ?? certificateValidDaysDefault;
  assert.ok(Number.isSafeInteger(validDays) && validDays > 0, 'validDays must be a positive int');
  const nowMs = (options.now ?? new Date()).getTime();
  return {
    notBefore: new Date(nowMs - clockSkewAllowanceMs),
    notAfter: new Date(nowMs + validDays * dayMs),
  };
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return await crypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
}

/** A positive 128-bit serial: the top bits are fixed so DER needs no sign byte (RFC 5280 4.1.2.2). */
function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = 0x40 | ((bytes[0] ?? 0) & 0x3f);
  return bytes.toString('hex');
}

/** NB: the library types the key usage bit set as its enum; the union of flags is a number. */
function keyUsages(...flags: readonly x509.KeyUsageFlags[]): x509.KeyUsageFlags {
  let bits = 0;
  for (const flag of flags) {
    bits |= flag;
  }
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- a bit set of flags
  return bits;
}

function subjectName(commonName: string): string {
  // NB: DN special characters would need escaping; a host name never needs them, so any that
  // slip in (a caller's common name) are replaced rather than escaped.
  return `CN=${commonName.replace(/[,+"\\<>;=]/g, '_')}`;
}

function subjectAltNames(hosts: readonly string[]): x509.SubjectAlternativeNameExtension {
  assert.ok(hosts.length > 0, 'a certificate needs at least one host');
  const names = hosts.map((host) => ({
    type: isIP(host) === 0 ? ('dns' as const) : ('ip' as const),
    value: host,
  }));
  return new x509.SubjectAlternativeNameExtension(names, false);
}

function certificatePem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').replace(/\r\n/g, '\n').trimEnd()}\n`;
}

function privateKeyPem(key: webcrypto.CryptoKey): string {
  const pem = KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' });
  return typeof pem === 'string' ? pem : pem.toString('utf8');
}

async function importPrivateKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  return await crypto.subtle.importKey('pkcs8', der, keyAlgorithm, false, ['sign']);
}
