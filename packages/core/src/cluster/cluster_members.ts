/**
 * Where each member of the cluster is reached: its cluster address (Raft, forwarding) and its
 * API address, replicated (as barrier ciphertext, like every value) under core/cluster/members/.
 * The Raft configuration says who is a member; these records say where.
 */
import type { SecureStore } from '../replicated/secure_store.ts';

/** One member's addresses. */
export interface MemberAddresses {
  readonly nodeId: number;
  /** host:port of the cluster port. */
  readonly clusterAddress: string;
  /** host:port of the gRPC API. */
  readonly apiAddress: string;
}

const membersPrefix = 'core/cluster/members/';

/** The path of member `nodeId`'s record. */
export function memberPath(nodeId: number): string {
  return `${membersPrefix}${nodeId}`;
}

/** Encodes a member record. */
export function encodeMember(member: MemberAddresses): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(member));
}

/** Member `nodeId` as this node applied it, or undefined (malformed records read as absent). */
export function readMember(secure: SecureStore, nodeId: number): MemberAddresses | undefined {
  const stored = secure.getLocal(memberPath(nodeId));
  if (stored === undefined) {
    return undefined;
  }
  try {
    const parsed = JSON.parse(new TextDecoder().decode(stored.value)) as Partial<MemberAddresses>;
    return parsed.nodeId === nodeId &&
      typeof parsed.clusterAddress === 'string' &&
      typeof parsed.apiAddress === 'string'
      ? { nodeId, clusterAddress: parsed.clusterAddress, apiAddress: parsed.apiAddress }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Writes member `member.nodeId`'s record (active node). */
export async function writeMember(secure: SecureStore, member: MemberAddresses): Promise<void> {
  await secure.put(memberPath(member.nodeId), encodeMember(member));
}
