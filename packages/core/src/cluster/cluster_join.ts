/**
 * The leader's side of a join (docs/design/cluster.md §3): make one-time tokens, and answer a
 * joiner that proves it holds one with a grant: a certificate for the key it made, the trust
 * bundle, the configuration and every member's addresses, and (encrypted for the joiner only)
 * the snapshot key it needs to take in the state while still sealed. The joiner is added as a
 * learner; it votes only once promoted.
 *
 *   token record (hash of secret, expiry) ─▶ request MAC checks ─▶ ONE write: token deleted
 *   (if still that version), member record put ─▶ learner added ─▶ certificate ─▶ grant + MAC
 */
import type { DriverClock, RaftNode } from '@coffer/raft/node';
import { ConfChangeType, asNodeId } from '@coffer/raft';

import type { Barrier } from '../barrier/barrier.ts';
import { KeyPurpose } from '../barrier/key_derivation.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { SecureStore } from '../replicated/secure_store.ts';
import { certifyNodeKey } from './certificates.ts';
import { issuingAuthority, readClusterAuthority } from './cluster_authority.ts';
import { encodeMember, memberPath, readMember, type MemberAddresses } from './cluster_members.ts';
import { proposeMembership } from './membership_change.ts';
import {
  caPinOf,
  encodeJoinToken,
  joinAuthKey,
  joinMac,
  joinMacMatches,
  joinRefused,
  newJoinTokenParts,
  sealForJoiner,
} from './join_token.ts';

/** What a joiner sends. Every field is covered by `mac`. */
export interface JoinRequest {
  readonly tokenId: string;
  readonly nodeId: number;
  readonly clusterAddress: string;
  readonly apiAddress: string;
  /** The joiner's public key, SPKI PEM (ECDSA P-256). */
  readonly publicKeyPem: string;
  /** 32 random hex bytes the grant's MAC covers, so a grant cannot be replayed. */
  readonly nonce: string;
  readonly mac: string;
}

/** What the leader answers. Every field is covered by `mac`. */
export interface JoinGrant {
  readonly clusterId: string;
  /** The trust bundle, newest last. */
  readonly authoritiesPem: readonly string[];
  /** The joiner's certificate for its own key. */
  readonly certificatePem: string;
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  readonly members: readonly MemberAddresses[];
  /** The snapshot HMAC key, sealed under the token (sealForJoiner). */
  readonly sealedSnapshotKey: string;
  /** The request's nonce. */
  readonly nonce: string;
  readonly mac: string;
}

/** The leader's parts a join needs. */
export interface JoinLeader {
  readonly node: RaftNode;
  readonly secure: SecureStore;
  readonly barrier: Barrier;
  readonly wallClockMs: () => number;
  readonly clock: DriverClock;
  readonly certificateLifetimeMs: number;
}

const tokenPrefix = 'core/cluster/join-tokens/';
const nodeIdMax = 1_000_000;
const addressPattern = /^[A-Za-z0-9.:[\]-]{1,253}:[0-9]{1,5}$/;

interface TokenRecord {
  readonly authKey: string;
  readonly expiresAtMs: number;
}

/**
 * Makes a one-time join token valid for ttlMs, naming `addresses` (API host:port of nodes to
 * ask). Returns its text, which is secret: hand it to the joining node's operator only.
 */
export async function createJoinToken(
  leader: Pick<JoinLeader, 'secure' | 'wallClockMs'>,
  options: { readonly ttlMs: number; readonly addresses: readonly string[] },
): Promise<string> {
  await leader.secure.readPoint();
  const authority = readClusterAuthority(leader.secure);
  if (authority === undefined) {
    throw new CoreError(
      CoreErrorCode.clusterIdentityUnavailable,
      'Retry in a second: the cluster CA is still being made',
    );
  }
  const { tokenId, secret } = newJoinTokenParts();
  const record: TokenRecord = {
    authKey: joinAuthKey(secret).toString('hex'),
    expiresAtMs: leader.wallClockMs() + options.ttlMs,
  };
  await leader.secure.put(
    `${tokenPrefix}${tokenId}`,
    new TextEncoder().encode(JSON.stringify(record)),
  );
  return encodeJoinToken({
    addresses: options.addresses,
    caPin: caPinOf(issuingAuthority(authority).certPem),
    tokenId,
    secret,
  });
}

/** Checks a join request and, when it holds, adds the joiner as a learner and grants it. */
export async function acceptJoin(leader: JoinLeader, request: JoinRequest): Promise<JoinGrant> {
  checkRequestShape(request);
  const { secure } = leader;
  await secure.readPoint();
  const path = `${tokenPrefix}${request.tokenId}`;
  const stored = secure.getLocal(path);
  const record = stored === undefined ? undefined : decodeTokenRecord(stored.value);
  if (stored === undefined || record === undefined) {
    throw joinRefused('the token is unknown or was used; make a new one');
  }
  const authKey = Buffer.from(record.authKey, 'hex');
  if (!joinMacMatches(authKey, { ...request }, request.mac)) {
    throw joinRefused('the request does not authenticate with this token');
  }
  if (leader.wallClockMs() > record.expiresAtMs) {
    throw joinRefused('the token has expired; make a new one');
  }
  const conf = leader.node.raw.status().confState;
  const inUse = [...conf.voters, ...conf.learners].some((id) => id === request.nodeId);
  const known = readMember(secure, request.nodeId);
  if (inUse && known !== undefined && known.clusterAddress !== request.clusterAddress) {
    throw joinRefused(`node id ${request.nodeId} belongs to another member; pick an unused id`);
  }
  const member: MemberAddresses = {
    nodeId: request.nodeId,
    clusterAddress: request.clusterAddress,
    apiAddress: request.apiAddress,
  };
  const written = await secure.write({
    conditions: [{ kind: 'version', key: path, version: stored.version }],
    operations: [
      { kind: 'delete', key: path },
      { kind: 'put', key: memberPath(request.nodeId), value: encodeMember(member) },
    ],
  });
  if (!written.ok) {
    throw joinRefused('the token was used meanwhile; make a new one');
  }
  if (!inUse) {
    await addLearner(leader, request.nodeId);
  }
  return await grantFor(leader, { request, authKey });
}

/** Adds `nodeId` as a learner and waits until the change applied. */
async function addLearner(leader: JoinLeader, nodeId: number): Promise<void> {
  await proposeMembership(
    leader.node,
    { type: ConfChangeType.addLearner, nodeId: asNodeId(nodeId) },
    { clock: leader.clock, applied: (conf) => conf.learners.some((id) => id === nodeId) },
  );
}

async function grantFor(
  leader: JoinLeader,
  context: { readonly request: JoinRequest; readonly authKey: Buffer },
): Promise<JoinGrant> {
  const { request, authKey } = context;
  const authority = readClusterAuthority(leader.secure);
  if (authority === undefined) {
    throw joinRefused('the cluster CA is missing on the leader');
  }
  const certificatePem = await certifyNodeKey(issuingAuthority(authority), request.publicKeyPem, {
    clusterId: authority.clusterId,
    nodeId: request.nodeId,
    validMs: leader.certificateLifetimeMs,
    now: new Date(leader.wallClockMs()),
  });
  const conf = leader.node.raw.status().confState;
  const ids = [...conf.voters, ...conf.learners];
  const members = ids
    .map((id) => readMember(leader.secure, id))
    .filter((m): m is MemberAddresses => m !== undefined);
  const snapshotKey = leader.barrier.deriveStableKey(KeyPurpose.snapshotHmac);
  let sealedSnapshotKey: string;
  try {
    sealedSnapshotKey = sealForJoiner(authKey, snapshotKey.reveal());
  } finally {
    snapshotKey.zero();
  }
  const fields = {
    clusterId: authority.clusterId,
    authoritiesPem: authority.authorities.map((a) => a.certPem),
    certificatePem,
    voters: [...conf.voters],
    learners: [...conf.learners],
    members,
    sealedSnapshotKey,
    nonce: request.nonce,
  };
  return { ...fields, mac: joinMac(authKey, fields) };
}

function checkRequestShape(request: JoinRequest): void {
  const ok =
    /^[0-9a-f]{16}$/.test(request.tokenId) &&
    Number.isSafeInteger(request.nodeId) &&
    request.nodeId >= 1 &&
    request.nodeId <= nodeIdMax &&
    addressPattern.test(request.clusterAddress) &&
    addressPattern.test(request.apiAddress) &&
    request.publicKeyPem.length < 1024 &&
    request.publicKeyPem.includes('PUBLIC KEY') &&
    /^[0-9a-f]{64}$/.test(request.nonce) &&
    /^[0-9a-f]{64}$/.test(request.mac);
  if (!ok) {
    throw joinRefused('the request is malformed (node id, addresses, key, nonce or MAC)');
  }
}

function decodeTokenRecord(bytes: Uint8Array): TokenRecord | undefined {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Partial<TokenRecord>;
    return typeof parsed.authKey === 'string' && typeof parsed.expiresAtMs === 'number'
      ? { authKey: parsed.authKey, expiresAtMs: parsed.expiresAtMs }
      : undefined;
  } catch {
    return undefined;
  }
}
