/**
 * The typed service definitions of coffer.v1, read from the package definition that
 * loadCofferPackageDefinition() builds, and the types that name a method and its request.
 * The types come from src/generated (scripts/generate_types.ts), so a method or field renamed in
 * a .proto file breaks the build of every caller here.
 */
import assert from 'node:assert/strict';

import type { PackageDefinition } from '@grpc/proto-loader';

import type { AuditDefinition } from './generated/coffer/v1/Audit.ts';
import type { AuthDefinition } from './generated/coffer/v1/Auth.ts';
import type { KvDefinition } from './generated/coffer/v1/Kv.ts';
import type { LeasesDefinition } from './generated/coffer/v1/Leases.ts';
import type { LogicalDefinition } from './generated/coffer/v1/Logical.ts';
import type { MountsDefinition } from './generated/coffer/v1/Mounts.ts';
import type { PoliciesDefinition } from './generated/coffer/v1/Policies.ts';
import type { SystemDefinition } from './generated/coffer/v1/System.ts';

/** Every service of coffer.v1 by its name in the .proto files. */
export interface CofferServiceDefinitions {
  readonly System: SystemDefinition;
  readonly Auth: AuthDefinition;
  readonly Kv: KvDefinition;
  readonly Policies: PoliciesDefinition;
  readonly Leases: LeasesDefinition;
  readonly Audit: AuditDefinition;
  readonly Mounts: MountsDefinition;
  readonly Logical: LogicalDefinition;
}

/** A service name, e.g. `Kv`. */
export type ServiceName = keyof CofferServiceDefinitions;

/** The declared keys of `T`, without the index signature grpc.ServiceDefinition adds. */
type DeclaredKeys<T> = keyof {
  [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K];
};

/** A method name of service `S`, e.g. `Put` of `Kv`. */
export type MethodName<S extends ServiceName> = DeclaredKeys<CofferServiceDefinitions[S]> & string;

/** The request message (input form) of method `M` of service `S`. */
export type RequestOf<
  S extends ServiceName,
  M extends MethodName<S>,
> = CofferServiceDefinitions[S][M] extends { requestSerialize: (value: infer R) => Buffer }
  ? R
  : never;

const serviceNames: readonly ServiceName[] = [
  'System',
  'Auth',
  'Kv',
  'Policies',
  'Leases',
  'Audit',
  'Mounts',
  'Logical',
];

/**
 * Picks the coffer.v1 services out of `packageDefinition`; a missing one is a bug (an assert).
 */
export function cofferServiceDefinitions(
  packageDefinition: PackageDefinition,
): CofferServiceDefinitions {
  const entries = serviceNames.map((name) => {
    const definition = packageDefinition[`coffer.v1.${name}`];
    // Invariant: the .proto files of this package declare every service named here.
    assert(definition !== undefined && !('format' in definition), `coffer.v1.${name} is missing`);
    return [name, definition] as const;
  });
  // NB: the generated types describe exactly these definitions (same files, same options).
  return Object.fromEntries(entries) as unknown as CofferServiceDefinitions;
}
