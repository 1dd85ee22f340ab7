/**
 * Small encoders shared by the service APIs: data objects to `data_json` text, and optional
 * fields that proto3 `optional` must leave out rather than send as zero.
 */
import { ClientErrorCode, CofferClientError } from './errors.ts';

/** The KV v2 mount the Kv service uses when a call names none (dev mode mounts it). */
export const kvMountDefault = 'secret';

/** Encodes request data as JSON text; throws COFFER_CLIENT_INVALID_REQUEST if JSON cannot. */
export function encodeDataJson(data: Readonly<Record<string, unknown>>): string {
  try {
    return JSON.stringify(data);
  } catch (error) {
    // NB: JSON.stringify's errors name keys and types (BigInt, cycles), never values.
    throw new CofferClientError(
      ClientErrorCode.invalidRequest,
      'Give data that JSON can encode (no BigInt, no cycles): it could not be encoded',
      { cause: error },
    );
  }
}

/** `{ [key]: value }` when `value` is set, `{}` when not (for proto3 `optional` fields). */
export function optionalField<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
