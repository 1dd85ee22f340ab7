/**
 * Issuing a secret_id for a role: a random one (`secret-id`) or the caller's (`custom-secret-id`).
 * The request's ttl, num_uses, cidr_list and token_bound_cidrs are bounded by the role as Vault
 * bounds them: a ttl no longer than the role's secret_id_ttl (0 takes the role's), num_uses no
 * higher than the role's secret_id_num_uses (absent takes the role's; 0, unlimited, is refused
 * when the role has a limit), and CIDR blocks inside the role's blocks.
 *
 * Invariant: the entry is written only while the role is at the version read, so a secret_id is
 * never issued for a role deleted or changed meanwhile.
 */
import { randomUUID } from 'node:crypto';

import { CoreError, CoreErrorCode } from '../../errors.ts';
import type { BackendRequest, BackendResponse } from '../../router/backend.ts';
import { FieldType, isPlainObject, type FieldSpec } from '../../router/fields.ts';
import type { AppRoleContext } from './approle_context.ts';
import { cidrsWithin, parseCidrs } from './cidr.ts';
import { requireRole, roleChangedError, roleKey, type RoleEntry } from './role_entry.ts';
import {
  accessorKey,
  putSecretIdOperations,
  secretIdKey,
  type SecretIdEntry,
} from './secret_id_entry.ts';

/** The longest custom secret_id. */
export const secretIdLengthMax = 4096;

/** Fields of secret_id generation (custom-secret-id adds `secret_id`). */
export const issueFieldSpecs: Readonly<Record<string, FieldSpec>> = {
  metadata: { type: FieldType.string, description: 'JSON object of string values' },
  cidr_list: { type: FieldType.strings, description: 'CIDRs this secret_id logs in from' },
  token_bound_cidrs: { type: FieldType.strings, description: 'CIDRs issued tokens work from' },
  ttl: { type: FieldType.duration, description: "Lifetime; at most the role's secret_id_ttl" },
  num_uses: { type: FieldType.int, description: "Logins; at most the role's secret_id_num_uses" },
};

function refuse(message: string): CoreError {
  return new CoreError(CoreErrorCode.invalidRequest, message);
}

/** Parses `metadata`: a JSON object (or its text) of string values. */
export function parseMetadata(value: unknown): Record<string, string> {
  let parsed: unknown = value ?? {};
  if (typeof value === 'string') {
    try {
      parsed = value.trim() === '' ? {} : JSON.parse(value);
    } catch {
      parsed = undefined;
    }
  }
  if (!isPlainObject(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) {
    throw refuse('Send "metadata" as a JSON object of string values');
  }
  return { ...(parsed as Record<string, string>) };
}

function boundedTtl(role: RoleEntry, requested: unknown): number {
  const ttl = typeof requested === 'number' ? requested : 0;
  if (ttl === 0) {
    return role.secretIdTtlSeconds;
  }
  if (role.secretIdTtlSeconds > 0 && ttl > role.secretIdTtlSeconds) {
    throw refuse(`Lower "ttl" to at most the role's secret_id_ttl (${role.secretIdTtlSeconds} s)`);
  }
  return ttl;
}

function boundedNumUses(role: RoleEntry, requested: unknown): number {
  if (typeof requested !== 'number') {
    return role.secretIdNumUses;
  }
  if (requested < 0) {
    throw refuse('Send 0 (unlimited) or a positive integer for "num_uses"');
  }
  if (role.secretIdNumUses > 0 && (requested === 0 || requested > role.secretIdNumUses)) {
    throw refuse(`Lower "num_uses" to 1..${role.secretIdNumUses}: the role's secret_id_num_uses`);
  }
  return requested;
}

function boundedCidrs(
  request: BackendRequest,
  field: string,
  roleCidrs: readonly string[],
): string[] {
  const given = request.fields[field];
  const cidrs = parseCidrs(Array.isArray(given) ? given.map(String) : [], field);
  if (!cidrsWithin(cidrs, roleCidrs)) {
    throw refuse(`Narrow "${field}" to blocks inside the role's blocks`);
  }
  return cidrs;
}

function newEntry(request: BackendRequest, role: RoleEntry): SecretIdEntry {
  const ttlSeconds = boundedTtl(role, request.fields['ttl']);
  return {
    roleName: role.name,
    incarnation: role.incarnation,
    accessor: randomUUID(),
    numUses: boundedNumUses(role, request.fields['num_uses']),
    ttlSeconds,
    creationMs: request.nowMs,
    expirationMs: ttlSeconds === 0 ? 0 : request.nowMs + ttlSeconds * 1000,
    lastUpdatedMs: request.nowMs,
    metadata: parseMetadata(request.fields['metadata']),
    cidrList: boundedCidrs(request, 'cidr_list', role.secretIdBoundCidrs),
    tokenBoundCidrs: boundedCidrs(request, 'token_bound_cidrs', role.tokenBoundCidrs),
  };
}

/** Checks a custom secret_id's size (without echoing it). */
export function checkSecretId(secretId: string): string {
  if (secretId.trim() === '' || secretId.length > secretIdLengthMax) {
    throw refuse(`Send a secret_id of 1 to ${secretIdLengthMax} characters, not blank`);
  }
  return secretId;
}

/** Stores `secretId` for the request's role and answers it with its accessor and limits. */
export async function issueSecretId(
  context: AppRoleContext,
  request: BackendRequest,
  secretId: string,
): Promise<BackendResponse> {
  const found = await requireRole(request.storage, request.params['role_name'] ?? '');
  const { role } = found;
  if (!role.bindSecretId) {
    throw refuse(`Enable "bind_secret_id" on the role "${role.name}" first: it takes no secret_id`);
  }
  const entry = newEntry(request, role);
  const hash = await context.hasher.hash(request.storage, 'secret_id', {
    value: checkSecretId(secretId),
    create: true,
  });
  const entryKey = secretIdKey(role.name, hash);
  const outcome = await request.storage.write({
    conditions: [
      { kind: 'version', key: roleKey(role.name), version: found.version },
      { kind: 'absent', key: entryKey },
      { kind: 'absent', key: accessorKey(role.name, entry.accessor) },
    ],
    operations: putSecretIdOperations(hash, entry),
  });
  if (!outcome.ok) {
    if (outcome.key === entryKey) {
      throw refuse('Choose another secret_id: this one is already registered for the role');
    }
    throw roleChangedError(role.name);
  }
  return {
    data: {
      secret_id: secretId,
      secret_id_accessor: entry.accessor,
      secret_id_ttl: entry.ttlSeconds,
      secret_id_num_uses: entry.numUses,
    },
  };
}
