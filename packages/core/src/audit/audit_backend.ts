/**
 * The sys/ routes of the audit devices (Vault's /sys/audit and /sys/audit-hash):
 * `audit` (read: list), `audit/:name` (update: enable, delete: disable) and
 * `audit-hash/:name` (update: hash an input with the device's salt).
 *
 * Invariant: the device table lives in the replicated, encrypted state at
 * `audit/devices/<name>` of the sys/ view (the salt with it), written only after the device
 * opened its file, so a stored device is one that worked; AuditBroker.loadFrom reopens them.
 * Listing and enabling need sudo, as in Vault. No response carries a salt.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Backend, BackendRequest, BackendResponse, Route } from '../router/backend.ts';
import { FieldType } from '../router/fields.ts';
import { deleteKey, jsonBytes, type StorageView } from '../router/storage_view.ts';
import { auditDevicesPrefix, type AuditBroker } from './audit_broker.ts';
import {
  AuditDeviceType,
  checkAuditDeviceName,
  type AuditDeviceRecord,
} from './audit_device_config.ts';
import { newAuditSalt } from './audit_hash.ts';

function deviceName(request: BackendRequest): string {
  const name = request.params['name'] ?? '';
  checkAuditDeviceName(name);
  return name;
}

async function listDevices(broker: AuditBroker): Promise<BackendResponse> {
  const data: Record<string, unknown> = {};
  for (const device of broker.list()) {
    data[`${device.name}/`] = {
      type: device.type,
      description: device.description,
      options: device.options,
      path: `${device.name}/`,
    };
  }
  return Promise.resolve({ data });
}

function newRecord(request: BackendRequest): AuditDeviceRecord {
  const type = request.fields['type'];
  if (type !== AuditDeviceType.file) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      `Set field "type" to "file": the only audit device type Coffer has`,
    );
  }
  const description = request.fields['description'];
  const options = request.fields['options'];
  return {
    type,
    description: typeof description === 'string' ? description : '',
    options: (options ?? {}) as Readonly<Record<string, string>>,
    salt: Buffer.from(newAuditSalt()).toString('hex'),
  };
}

async function enableDevice(
  broker: AuditBroker,
  request: BackendRequest,
): Promise<BackendResponse> {
  const name = deviceName(request);
  if (!(await enableAuditDevice(broker, request.storage, { name, record: newRecord(request) }))) {
    throw new CoreError(
      CoreErrorCode.mountConflict,
      `Choose another name: audit device "${name}" is already enabled`,
    );
  }
  return {};
}

/**
 * Enables device `name` with `record` (its salt fresh) and stores the record, unless a device
 * of that name is stored already: then answers false and changes nothing. The device opens
 * before its record is stored, so a device that cannot write is never recorded.
 */
export async function enableAuditDevice(
  broker: AuditBroker,
  storage: StorageView,
  device: { readonly name: string; readonly record: AuditDeviceRecord },
): Promise<boolean> {
  const key = auditDevicesPrefix + device.name;
  if ((await storage.get(key)) !== undefined) {
    return false;
  }
  await broker.enable(device.name, device.record);
  let outcome;
  try {
    outcome = await storage.write({
      conditions: [{ kind: 'absent', key }],
      operations: [{ kind: 'put', key, value: jsonBytes(device.record) }],
    });
  } catch (error) {
    await broker.disable(device.name);
    throw error;
  }
  if (!outcome.ok) {
    await broker.disable(device.name);
  }
  return outcome.ok;
}

/** A file device's record with a fresh salt. */
export function fileAuditDeviceRecord(
  options: Readonly<Record<string, string>>,
): AuditDeviceRecord {
  return {
    type: AuditDeviceType.file,
    description: 'declared in the server config',
    options,
    salt: Buffer.from(newAuditSalt()).toString('hex'),
  };
}

async function disableDevice(
  broker: AuditBroker,
  request: BackendRequest,
): Promise<BackendResponse> {
  const name = deviceName(request);
  await deleteKey(request.storage, auditDevicesPrefix + name);
  await broker.disable(name);
  return {};
}

async function hashInput(broker: AuditBroker, request: BackendRequest): Promise<BackendResponse> {
  const input = request.fields['input'];
  if (typeof input !== 'string') {
    throw new CoreError(CoreErrorCode.invalidRequest, 'Send field "input": the string to hash');
  }
  return Promise.resolve({ data: { hash: broker.hash(deviceName(request), input) } });
}

/** The audit routes of sys/, over broker. */
export function auditRoutes(broker: AuditBroker): Route[] {
  return [
    {
      pattern: 'audit',
      sudo: true,
      operations: { read: () => listDevices(broker) },
    },
    {
      pattern: 'audit/:name',
      sudo: true,
      fields: {
        type: { type: FieldType.string, description: 'The device type: "file"' },
        description: { type: FieldType.string, default: '' },
        options: {
          type: FieldType.stringMap,
          description: 'file_path (absolute), fsync ("batch" or "none"), hmac_accessor',
        },
      },
      operations: {
        update: (request) => enableDevice(broker, request),
        delete: (request) => disableDevice(broker, request),
      },
    },
    {
      pattern: 'audit-hash/:name',
      fields: { input: { type: FieldType.string, required: true } },
      operations: { update: (request) => hashInput(broker, request) },
    },
  ];
}

/** A Backend of just the audit routes (tests; the sys/ backend spreads {@link auditRoutes}). */
export function createAuditBackend(broker: AuditBroker): Backend {
  return { routes: auditRoutes(broker) };
}
