/**
 * The joining node's side of a join (docs/design/cluster.md §3): make a key, ask with a request
 * authenticated by the token, and accept the grant only when it authenticates with the same
 * token, answers this request's nonce, carries a CA that hashes to the token's pin, and
 * certifies this node's own key under that CA.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';

import type { GrantedIdentity } from './node_cluster_identity.ts';
import type { JoinGrant, JoinRequest } from './cluster_join.ts';
import {
  caPinOf,
  decodeJoinToken,
  joinAuthKey,
  joinMac,
  joinMacMatches,
  joinRefused,
  openFromLeader,
  type JoinToken,
} from './join_token.ts';
import { parseNodeIdentityUri } from './node_identity_uri.ts';

/** A join in progress on the joining node. Holds secrets: keep it in memory only. */
export interface PendingJoin {
  readonly token: JoinToken;
  readonly request: JoinRequest;
  /** The key this node made for its certificate. Secret. */
  readonly keyPem: string;
}

/** What a verified grant gives the joining node. */
export interface AcceptedGrant {
  readonly identity: GrantedIdentity;
  readonly voters: readonly number[];
  readonly learners: readonly number[];
  readonly members: JoinGrant['members'];
  /** The snapshot key, to take in the state while sealed. Secret. */
  readonly snapshotKey: Uint8Array;
}

/** Starts a join with the token's text: a new key and the authenticated request. */
export function prepareJoin(
  tokenText: string,
  self: { readonly nodeId: number; readonly clusterAddress: string; readonly apiAddress: string },
): PendingJoin {
  const token = decodeJoinToken(tokenText);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const fields = {
    tokenId: token.tokenId,
    nodeId: self.nodeId,
    clusterAddress: self.clusterAddress,
    apiAddress: self.apiAddress,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    nonce: randomBytes(32).toString('hex'),
  };
  return {
    token,
    request: { ...fields, mac: joinMac(joinAuthKey(token.secret), fields) },
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** Checks a grant against the pending join; throws COFFER_CORE_JOIN_REFUSED when it fails. */
export function acceptGrant(pending: PendingJoin, grant: JoinGrant): AcceptedGrant {
  const authKey = joinAuthKey(pending.token.secret);
  if (!joinMacMatches(authKey, { ...grant }, grant.mac)) {
    throw joinRefused('the grant does not authenticate with this token (not the cluster?)');
  }
  if (grant.nonce !== pending.request.nonce) {
    throw joinRefused('the grant answers another request');
  }
  const issuer = grant.authoritiesPem.at(-1);
  if (issuer === undefined || caPinOf(issuer) !== pending.token.caPin) {
    throw joinRefused("the cluster CA does not match the token's pin");
  }
  const cert = new X509Certificate(grant.certificatePem);
  const ca = new X509Certificate(issuer);
  const identity = parseNodeIdentityUri(cert.subjectAltName?.replace(/^URI:/, '') ?? '');
  const ownKey = createPublicKey(pending.request.publicKeyPem);
  if (
    !cert.checkIssued(ca) ||
    !cert.verify(ca.publicKey) ||
    !cert.publicKey.equals(ownKey) ||
    identity?.nodeId !== pending.request.nodeId ||
    identity.clusterId !== grant.clusterId
  ) {
    throw joinRefused('the granted certificate is not for this node under the pinned CA');
  }
  if (![...grant.voters, ...grant.learners].includes(pending.request.nodeId)) {
    throw joinRefused('the grant does not make this node a member');
  }
  return {
    identity: {
      clusterId: grant.clusterId,
      authoritiesPem: grant.authoritiesPem,
      keyPem: pending.keyPem,
      certPem: grant.certificatePem,
    },
    voters: grant.voters,
    learners: grant.learners,
    members: grant.members,
    snapshotKey: openFromLeader(authKey, grant.sealedSnapshotKey),
  };
}
