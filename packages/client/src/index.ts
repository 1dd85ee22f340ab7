/**
 * Public surface of @coffer/client. This is the package's only barrel: explicit named
 * re-exports, nothing else (STYLE.md 1.3, 2.3).
 */
export type * from './client_api.ts';
export { CofferClient } from './coffer_client.ts';
export { ClientErrorCode, CofferClientError } from './errors.ts';
export type { CofferClientErrorOptions } from './errors.ts';
export {
  loadClusterPackageDefinition,
  loadCofferPackageDefinition,
  protoDirectory,
  protoFiles,
  protoLoaderOptions,
} from './proto_definition.ts';
