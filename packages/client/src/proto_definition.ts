/**
 * Where the Coffer .proto files live and how they are loaded. The server (@coffer/api) and this
 * client load the same files with the same options, and the generated types in src/generated
 * are made from them with matching flags (scripts/generate_types.ts), so a field means the same
 * thing at both ends.
 */
import { fileURLToPath } from 'node:url';

import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** The include directory of the .proto files (imports are `coffer/v1/<name>.proto`). */
export const protoDirectory: string = fileURLToPath(new URL('../proto', import.meta.url));

/** Every .proto file of the API, relative to {@link protoDirectory}. */
export const protoFiles: readonly string[] = [
  'coffer/v1/common.proto',
  'coffer/v1/system.proto',
  'coffer/v1/auth.proto',
  'coffer/v1/kv.proto',
  'coffer/v1/policy.proto',
  'coffer/v1/lease.proto',
  'coffer/v1/audit.proto',
  'coffer/v1/mount.proto',
  'coffer/v1/logical.proto',
];

/**
 * The proto-loader options: field names as written in the .proto files, 64-bit integers as JS
 * numbers (every int64 here is a count, a version or seconds, far below 2^53), defaults filled
 * in so a decoded message always has every field.
 */
export const protoLoaderOptions: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoDirectory],
};

/** The package definition of every Coffer service, for grpc-js `loadPackageDefinition`. */
export function loadCofferPackageDefinition(): PackageDefinition {
  return loadSync([...protoFiles], protoLoaderOptions);
}

/**
 * The .proto files of the cluster channel, relative to {@link protoDirectory}. Internal to the
 * server: they are not part of the client's API ({@link protoFiles}) and have no generated types.
 */
const clusterProtoFiles: readonly string[] = [
  'coffer/cluster/v1/raft.proto',
  'coffer/cluster/v1/forward.proto',
];

/** The package definition of the cluster channel's services, loaded like the API's. */
export function loadClusterPackageDefinition(): PackageDefinition {
  return loadSync([...clusterProtoFiles], protoLoaderOptions);
}
