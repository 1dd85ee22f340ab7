/**
 * The audit broker: the enabled audit devices of this node, and the one place the router sends
 * each request and response to be audited (Vault's AuditBroker).
 *
 * Fail closed: with devices enabled, logRequest and logResponse resolve once at least one device
 * has written the line, and reject with COFFER_CORE_AUDIT_UNAVAILABLE when none could; the router
 * then refuses the request (or withholds the response). With no device enabled both resolve at
 * once. A device's failure is counted and reported to the logger with non-secret fields only.
 *
 * Invariant: salts stay in #private fields; list() and errors never show them. Each device
 * hashes with its own salt, so the same value has a different HMAC in each device's file.
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { StorageView } from '../router/storage_view.ts';
import { getJson, listAll } from '../router/storage_view.ts';
import {
  checkAuditDeviceName,
  decodeSalt,
  parseFileDeviceOptions,
  type AuditDeviceRecord,
} from './audit_device_config.ts';
import {
  formatRequestEntry,
  formatResponseEntry,
  type AuditEntry,
  type AuditHashing,
  type AuditRequestInput,
  type AuditResponseInput,
} from './audit_entry.ts';
import { auditErrorCode, type OpenAuditFile } from './audit_file_handle.ts';
import { AuditHashMemo, auditChainGenesis, auditHash } from './audit_hash.ts';
import { FileAuditDevice } from './file_audit_device.ts';

/** Where the broker reports device failures: non-secret fields only. */
export interface AuditLogger {
  warn(fields: Readonly<Record<string, string | number>>, message: string): void;
}

/** The clock that stamps audit lines (the production DriverClock, or a ManualClock in tests). */
export interface AuditClock {
  nowMs(): number;
}

/** What the broker needs. */
export interface AuditBrokerOptions {
  readonly clock: AuditClock;
  readonly logger?: AuditLogger;
  /** Opens device files; tests inject failing or counting handles. */
  readonly openFile?: OpenAuditFile;
}

/** A device as listed: never its salt. */
export interface AuditDeviceInfo {
  readonly name: string;
  readonly type: string;
  readonly description: string;
  readonly path: string;
  readonly options: Readonly<Record<string, string>>;
}

/** The storage prefix (in the sys/ view) of the device table. */
export const auditDevicesPrefix = 'audit/devices/';

interface EnabledDevice {
  readonly record: AuditDeviceRecord;
  readonly hashing: AuditHashing;
  readonly device: FileAuditDevice;
}

const silentLogger: AuditLogger = { warn: () => undefined };

/** The enabled audit devices of this node. */
export class AuditBroker {
  readonly #clock: AuditClock;
  readonly #logger: AuditLogger;
  readonly #openFile: OpenAuditFile | undefined;
  readonly #devices = new Map<string, EnabledDevice>();
  readonly #failures = new Map<string, number>();

  constructor(options: AuditBrokerOptions) {
    this.#clock = options.clock;
    this.#logger = options.logger ?? silentLogger;
    this.#openFile = options.openFile;
  }

  /**
   * Opens a device from its record (options checked, file opened or created with mode 0600).
   * Throws COFFER_CORE_MOUNT_CONFLICT when the name or the file is taken, INVALID_REQUEST on bad
   * options, AUDIT_UNAVAILABLE when the file cannot be opened.
   */
  async enable(name: string, record: AuditDeviceRecord): Promise<void> {
    checkAuditDeviceName(name);
    const options = parseFileDeviceOptions(record.options);
    const salt = decodeSalt(record);
    if (this.#devices.has(name)) {
      throw new CoreError(
        CoreErrorCode.mountConflict,
        `Choose another name: audit device "${name}" is already enabled`,
      );
    }
    for (const [other, enabled] of this.#devices) {
      if (enabled.device.path === options.filePath) {
        throw new CoreError(
          CoreErrorCode.mountConflict,
          `Choose another file_path: audit device "${other}" already writes "${options.filePath}"`,
        );
      }
    }
    const device = await FileAuditDevice.open({
      path: options.filePath,
      genesisHash: auditChainGenesis(salt),
      fsync: options.fsync,
      ...(this.#openFile === undefined ? {} : { openFile: this.#openFile }),
    });
    if (this.#devices.has(name)) {
      await device.close();
      throw new CoreError(
        CoreErrorCode.mountConflict,
        `Choose another name: audit device "${name}" was enabled meanwhile`,
      );
    }
    this.#devices.set(name, {
      record,
      hashing: { salt, hmacAccessor: options.hmacAccessor, memo: new AuditHashMemo(salt) },
      device,
    });
  }

  /** Closes and forgets a device (its queued lines are written first); false when absent. */
  async disable(name: string): Promise<boolean> {
    const enabled = this.#devices.get(name);
    if (enabled === undefined) {
      return false;
    }
    this.#devices.delete(name);
    this.#failures.delete(name);
    await enabled.device.close().catch(() => undefined);
    return true;
  }

  /** The enabled devices by name order, without salts. */
  list(): AuditDeviceInfo[] {
    return [...this.#devices.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, { record, device }]) => ({
        name,
        type: record.type,
        description: record.description,
        path: device.path,
        options: { ...record.options },
      }));
  }

  /** The audit hash of value under device name's salt (sys/audit-hash); NOT_FOUND when absent. */
  hash(name: string, value: string): string {
    const enabled = this.#devices.get(name);
    if (enabled === undefined) {
      throw new CoreError(
        CoreErrorCode.notFound,
        `Enable audit device "${name}" first: no such device`,
      );
    }
    return auditHash(enabled.hashing.salt, value);
  }

  /** Failed writes per device since it was enabled (for metrics). */
  failureCounts(): ReadonlyMap<string, number> {
    return new Map(this.#failures);
  }

  /** Audits a request before it is served. */
  logRequest(input: AuditRequestInput): Promise<void> {
    const nowMs = this.#clock.nowMs();
    return this.#fanOut((hashing) => formatRequestEntry(hashing, input, nowMs), 'request');
  }

  /** Audits a response (or an error) before it is returned. */
  logResponse(input: AuditResponseInput): Promise<void> {
    const nowMs = this.#clock.nowMs();
    return this.#fanOut((hashing) => formatResponseEntry(hashing, input, nowMs), 'response');
  }

  async #fanOut(
    format: (hashing: AuditHashing) => AuditEntry,
    line: 'request' | 'response',
  ): Promise<void> {
    if (this.#devices.size === 0) {
      return;
    }
    const writes: Promise<void>[] = [];
    for (const [name, { hashing, device }] of this.#devices) {
      writes.push(
        device.log(format(hashing)).catch((error: unknown) => {
          this.#recordFailure(name, device.path, error);
          throw error;
        }),
      );
    }
    const [only] = writes;
    try {
      // NB: one device (the usual case) needs no race; its failure is wrapped as Promise.any's.
      await (writes.length === 1 && only !== undefined
        ? only.catch((error: unknown) => {
            throw new AggregateError([error], 'All promises were rejected');
          })
        : Promise.any(writes));
    } catch (error) {
      throw new CoreError(
        CoreErrorCode.auditUnavailable,
        line === 'request'
          ? 'Free or repair the audit devices: none could record the request, so it was not served'
          : 'Free or repair the audit devices: none could record the response, so it was withheld ' +
              '(the request may have run: read before you retry a write)',
        { cause: error },
      );
    }
  }

  #recordFailure(name: string, path: string, error: unknown): void {
    this.#failures.set(name, (this.#failures.get(name) ?? 0) + 1);
    this.#logger.warn(
      { device: name, path, errorCode: auditErrorCode(error) },
      'Audit device failed to record a line',
    );
  }

  /**
   * Enables every device stored under `audit/devices/` of storage (the sys/ view) that is not
   * enabled yet: on unseal, restart, or when this node becomes active. Rejects with
   * COFFER_CORE_AUDIT_UNAVAILABLE when a stored device cannot be opened (after trying them all),
   * so the node does not serve unaudited requests.
   */
  async loadFrom(storage: StorageView): Promise<void> {
    const keys = await listAll(storage, auditDevicesPrefix);
    const failed: string[] = [];
    for (const key of keys) {
      const name = key.slice(auditDevicesPrefix.length);
      const record = await getJson<AuditDeviceRecord>(storage, key);
      if (record === undefined || this.#devices.has(name)) {
        continue;
      }
      try {
        await this.enable(name, record);
      } catch (error) {
        failed.push(name);
        this.#logger.warn(
          { device: name, errorCode: auditErrorCode(error) },
          'Audit device failed to open',
        );
      }
    }
    if (failed.length > 0) {
      throw new CoreError(
        CoreErrorCode.auditUnavailable,
        `Repair audit devices "${failed.join('", "')}": they could not be opened`,
      );
    }
  }

  /** Reopens every device's file (SIGHUP after log rotation); failures are logged and counted. */
  async reopen(): Promise<void> {
    await Promise.all(
      [...this.#devices.entries()].map(([name, { device }]) =>
        device.reopen().catch((error: unknown) => {
          this.#recordFailure(name, device.path, error);
        }),
      ),
    );
  }

  /** Closes every device (on seal or step-down); they are forgotten. */
  async close(): Promise<void> {
    const devices = [...this.#devices.values()];
    this.#devices.clear();
    await Promise.all(devices.map(({ device }) => device.close().catch(() => undefined)));
  }
}
