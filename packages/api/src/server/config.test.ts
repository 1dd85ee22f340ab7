/**
 * Goal: the server config is read from JSON and YAML, defaults are filled in, relative paths
 * resolve against the file's directory, and every wrong, missing or unknown field is reported
 * at once with its path and what is expected (COFFER_API_CONFIG_INVALID); an unreadable or
 * unparsable file gets COFFER_API_CONFIG_UNREADABLE; a PIN is never accepted inline.
 * Method: documents validated directly, and files written to a mkdtemp directory and loaded
 * with loadServerConfig; no server is started.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import { graphqlSettingsDefault } from '../graphql/graphql_endpoint.ts';
import { loadServerConfig, serverLimitsDefault, validateServerConfig } from './config.ts';

const minimal = {
  node_id: 1,
  storage: { path: 'data' },
  listeners: { grpc: { tls_cert_file: 'tls/cert.pem', tls_key_file: 'tls/key.pem' } },
};

/** The error's code and message lines of an invalid document. */
function problems(document: unknown): { code: unknown; lines: string[] } {
  try {
    validateServerConfig(document, '/etc/coffer');
  } catch (error) {
    const { code, message } = error as { code: unknown; message: string };
    return {
      code,
      lines: message
        .split('\n')
        .slice(1)
        .map((line) => line.trim()),
    };
  }
  throw new Error('expected the document to be refused');
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-config-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('validateServerConfig', () => {
  it('validateServerConfig fills in defaults and resolves relative paths against the base', () => {
    const config = validateServerConfig(minimal, '/etc/coffer');
    expect(config).toEqual({
      nodeId: 1,
      storagePath: '/etc/coffer/data',
      listeners: {
        grpc: {
          host: '127.0.0.1',
          port: 8200,
          tlsCertFile: '/etc/coffer/tls/cert.pem',
          tlsKeyFile: '/etc/coffer/tls/key.pem',
        },
        http: {
          host: '127.0.0.1',
          port: 8300,
          tlsCertFile: '/etc/coffer/tls/cert.pem',
          tlsKeyFile: '/etc/coffer/tls/key.pem',
        },
      },
      seal: { type: 'shamir' },
      audit: [],
      limits: serverLimitsDefault,
      metricsUnauthenticated: false,
      grpcReflection: false,
      graphql: graphqlSettingsDefault,
      log: { level: 'info' },
    });
  });

  it('validateServerConfig maps every section of a full config', () => {
    const config = validateServerConfig(
      {
        ...minimal,
        listeners: {
          grpc: { address: '[::1]:0', tls_cert_file: '/c.pem', tls_key_file: '/k.pem' },
          http: { address: 'localhost:9300', tls_cert_file: 'h.pem', tls_key_file: 'hk.pem' },
        },
        seal: {
          type: 'pkcs11',
          library: '/usr/lib/softhsm/libsofthsm2.so',
          token_label: 'coffer',
          pin_file: 'pin',
          key_label: 'root-wrap',
          mechanism: 'rsa-oaep',
          oaep_hash: 'sha1',
          rsa_modulus_bits: 4096,
        },
        audit: [{ path: 'file', file_path: 'audit.log', fsync: 'none' }],
        limits: { request_bytes_max: 10, grpc_message_bytes_max: 20, in_flight_max: 3 },
        metrics: { unauthenticated: true },
        grpc: { reflection: true },
        graphql: {
          enabled: false,
          introspection: true,
          request_bytes_max: 1000,
          tokens_max: 100,
          depth_max: 4,
          cost_max: 50,
          aliases_max: 0,
          router_requests_max: 5,
          subscription_wait_ms: 500,
        },
        events: { retained_max: 64, wait_ms_max: 2000 },
        log: { level: 'debug', file: 'coffer.log' },
      },
      '/srv',
    );
    expect(config.graphql).toEqual({
      enabled: false,
      introspection: true,
      requestBytesMax: 1000,
      tokensMax: 100,
      depthMax: 4,
      costMax: 50,
      aliasesMax: 0,
      routerRequestsMax: 5,
      subscriptionWaitMs: 500,
    });
    expect(config.events).toEqual({ retainedMax: 64, waitMsMax: 2000 });
    expect(config.listeners.grpc).toMatchObject({ host: '::1', port: 0 });
    expect(config.listeners.http).toEqual({
      host: 'localhost',
      port: 9300,
      tlsCertFile: '/srv/h.pem',
      tlsKeyFile: '/srv/hk.pem',
    });
    expect(config.seal).toEqual({
      type: 'pkcs11',
      config: {
        libraryPath: '/usr/lib/softhsm/libsofthsm2.so',
        tokenLabel: 'coffer',
        pinFile: '/srv/pin',
        keyLabel: 'root-wrap',
        mechanism: 'rsa-oaep',
        oaepHash: 'sha1',
        rsaModulusBits: 4096,
      },
    });
    expect(config.audit).toEqual([{ name: 'file', filePath: '/srv/audit.log', fsync: 'none' }]);
    expect(config.limits).toEqual({
      requestBytesMax: 10,
      grpcMessageBytesMax: 20,
      inFlightMax: 3,
      shutdownGraceMs: serverLimitsDefault.shutdownGraceMs,
    });
    expect(config).toMatchObject({
      metricsUnauthenticated: true,
      grpcReflection: true,
      log: { level: 'debug', file: '/srv/coffer.log' },
    });
  });

  it('validateServerConfig reports every problem at once, each with its field path', () => {
    const result = problems({
      node_id: 0,
      storage: {},
      listeners: {
        grpc: { address: '8200', tls_cert_file: 'c', tls_key_file: 'k', tls_ca: 'x' },
        http: { address: 'localhost:70000' },
      },
      seal: { type: 'awskms' },
      audit: [{ path: 'a', file_path: 'a.log', fsync: 'always' }],
      limits: { in_flight_max: 1.5 },
      metrics: { unauthenticated: 'yes' },
      log: { level: 'trace' },
      listener: {},
      graphql: { introspection: 'on', depth_max: 0, playground: true },
    });
    expect(result.code).toBe(ApiErrorCode.configInvalid);
    expect(result.lines).toEqual(
      expect.arrayContaining([
        'node_id: expected an integer ≥ 1 (got 0)',
        'graphql.introspection: expected true or false (got "on")',
        'graphql.depth_max: expected a depth (integer ≥ 1) (got 0)',
        expect.stringMatching(/^graphql\.playground: unknown field/),
        'storage.path: expected the path of the data directory (missing)',
        'listeners.grpc.address: expected "host:port" with a port from 0 to 65535 (got "8200")',
        expect.stringMatching(/^listeners\.grpc\.tls_ca: unknown field/),
        'listeners.http.address: expected "host:port" with a port from 0 to 65535 ' +
          '(got "localhost:70000")',
        'seal.type: expected type "shamir" or "pkcs11" (got "awskms")',
        'audit[0].fsync: expected "batch" or "none" (got "always")',
        'limits.in_flight_max: expected a count (integer ≥ 1) (got 1.5)',
        'metrics.unauthenticated: expected true or false (got "yes")',
        'log.level: expected "debug", "info", "warn" or "error" (got "trace")',
        expect.stringMatching(/^listener: unknown field/),
      ]),
    );
    expect(result.lines).toHaveLength(14);
  });

  it('validateServerConfig names missing required sections', () => {
    expect(problems({}).lines).toEqual([
      'node_id: expected an integer ≥ 1 (missing)',
      'storage: expected an object with "path" (missing)',
      'listeners: expected an object with "grpc" (and optionally "http") (missing)',
    ]);
    expect(problems([]).lines).toEqual([
      '(top level): expected a mapping of config sections (node_id, storage, listeners, ...) ' +
        '(got a list)',
    ]);
  });

  it('validateServerConfig refuses an inline PIN and says where a PIN goes', () => {
    const result = problems({
      ...minimal,
      seal: { type: 'pkcs11', library: '/lib.so', token_label: 't', key_label: 'k', pin: '1234' },
    });
    expect(result.lines).toContain(
      'seal.pin: never write a PIN in the config; put it in a file (mode 0600) named by ' +
        'seal.pin_file',
    );
    expect(result.lines.join('\n')).not.toContain('1234');
  });

  it('validateServerConfig checks the PKCS#11 seal fields', () => {
    const seal = { type: 'pkcs11', library: 'lib.so', pin_file: 'p', key_label: 'k' };
    expect(problems({ ...minimal, seal }).lines).toEqual([
      'seal.library: expected the absolute path of the PKCS#11 library (got "lib.so")',
      'seal: expected exactly one of token_label and slot_id',
    ]);
    const neither = problems({ ...minimal, seal: { ...seal, library: '/lib.so' } });
    expect(neither.lines).toEqual(['seal: expected exactly one of token_label and slot_id']);
    const both = problems({
      ...minimal,
      seal: { ...seal, library: '/lib.so', token_label: 't', slot_id: 0 },
    });
    expect(both.lines).toEqual(['seal: expected exactly one of token_label and slot_id']);
  });

  it('validateServerConfig takes a PKCS#11 migration target beside a Shamir seal only', () => {
    const target = {
      type: 'pkcs11',
      library: '/lib.so',
      token_label: 't',
      pin_file: 'hsm.pin',
      key_label: 'k',
    };
    const config = validateServerConfig({ ...minimal, seal_migration_target: target }, '/etc/c');
    expect(config.seal).toEqual({ type: 'shamir' });
    expect(config.sealMigrationTarget).toEqual({
      libraryPath: '/lib.so',
      tokenLabel: 't',
      pinFile: '/etc/c/hsm.pin',
      keyLabel: 'k',
    });
    expect(validateServerConfig(minimal, '/etc/c').sealMigrationTarget).toBeUndefined();
    const beside = problems({ ...minimal, seal: target, seal_migration_target: target });
    expect(beside.lines).toEqual([
      'seal_migration_target: expected none beside a pkcs11 seal (it migrates to shamir, ' +
        'which needs no settings)',
    ]);
    const inline = problems({ ...minimal, seal_migration_target: { ...target, pin: '1234' } });
    expect(inline.lines).toEqual([
      'seal_migration_target.pin: never write a PIN in the config; put it in a file (mode ' +
        '0600) named by seal_migration_target.pin_file',
    ]);
    const shamirTarget = problems({ ...minimal, seal_migration_target: { type: 'shamir' } });
    expect(shamirTarget.lines.join('\n')).toContain('seal_migration_target.type');
  });

  it('validateServerConfig refuses two audit devices with one name', () => {
    const device = { path: 'file', file_path: '/a.log' };
    expect(problems({ ...minimal, audit: [device, device] }).lines).toEqual([
      'audit[1].path: expected a unique device name (got "file")',
    ]);
  });

  it('validateServerConfig lists a duplicate audit name together with the other problems', () => {
    const device = { path: 'file', file_path: '/a.log' };
    const broken = { path: 'bad name', file_path: '/b.log' };
    expect(problems({ ...minimal, node_id: 0, audit: [device, broken, device] }).lines).toEqual([
      'node_id: expected an integer ≥ 1 (got 0)',
      'audit[1].path: expected a device name of letters, digits, "_", "." or "-" (got "bad name")',
      'audit[2].path: expected a unique device name (got "file")',
    ]);
  });
});

describe('loadServerConfig', () => {
  it('loadServerConfig reads YAML and JSON files alike', async () => {
    const yamlFile = join(dir, 'coffer.yaml');
    await writeFile(
      yamlFile,
      [
        'node_id: 2',
        'storage:',
        '  path: data',
        'listeners:',
        '  grpc:',
        '    address: 127.0.0.1:0',
        '    tls_cert_file: cert.pem',
        '    tls_key_file: key.pem',
        '',
      ].join('\n'),
    );
    const jsonFile = join(dir, 'coffer.json');
    await writeFile(jsonFile, JSON.stringify({ ...minimal, node_id: 2 }));
    const yaml = await loadServerConfig(yamlFile);
    expect(yaml).toMatchObject({ nodeId: 2, storagePath: join(dir, 'data') });
    expect(yaml.listeners.grpc).toMatchObject({ port: 0, tlsKeyFile: join(dir, 'key.pem') });
    expect(await loadServerConfig(jsonFile)).toMatchObject({ nodeId: 2 });
  });

  it('loadServerConfig reports an unreadable file, bad syntax and an unknown extension', async () => {
    await expect(loadServerConfig(join(dir, 'absent.yaml'))).rejects.toMatchObject({
      code: ApiErrorCode.configUnreadable,
      message: expect.stringContaining('ENOENT') as unknown,
    });
    const badJson = join(dir, 'bad.json');
    await writeFile(badJson, '{"node_id": 1,');
    await expect(loadServerConfig(badJson)).rejects.toMatchObject({
      code: ApiErrorCode.configUnreadable,
      message: expect.stringContaining('Fix the syntax of the config file') as unknown,
    });
    const badYaml = join(dir, 'bad.yml');
    await writeFile(badYaml, 'node_id: [1\nstorage: {');
    await expect(loadServerConfig(badYaml)).rejects.toMatchObject({
      code: ApiErrorCode.configUnreadable,
    });
    const toml = join(dir, 'coffer.toml');
    await writeFile(toml, 'node_id = 1');
    await expect(loadServerConfig(toml)).rejects.toMatchObject({
      code: ApiErrorCode.configUnreadable,
      message: expect.stringContaining('.json, .yaml or .yml') as unknown,
    });
  });

  it('loadServerConfig reports field problems of a file with COFFER_API_CONFIG_INVALID', async () => {
    const file = join(dir, 'invalid.yaml');
    await writeFile(file, 'node_id: one\nstorage: {path: d}\nlisteners: {grpc: {}}\n');
    await expect(loadServerConfig(file)).rejects.toMatchObject({
      code: ApiErrorCode.configInvalid,
      message: expect.stringContaining('node_id: expected an integer ≥ 1 (got "one")') as unknown,
    });
  });
});
