/**
 * The identity a node's cluster certificate names: `coffer://<cluster id>/node/<node id>`, its
 * only subject alternative name. Peers authorize by this identity, never by address.
 */

/** A node's place in a cluster, as its certificate names it. */
export interface NodeIdentity {
  readonly clusterId: string;
  readonly nodeId: number;
}

/** Cluster ids are made at init (`coffer-<uuid>`); anything else is refused when parsed. */
const clusterIdPattern = /^[a-z0-9][a-z0-9-]{0,127}$/;
const uriPattern = /^coffer:\/\/([a-z0-9][a-z0-9-]{0,127})\/node\/([1-9][0-9]{0,15})$/;

/** The URI naming node `nodeId` of cluster `clusterId`. */
export function nodeIdentityUri(clusterId: string, nodeId: number): string {
  if (!clusterIdPattern.test(clusterId) || !Number.isSafeInteger(nodeId) || nodeId < 1) {
    throw new RangeError('a node identity needs a cluster id and a positive node id');
  }
  return `coffer://${clusterId}/node/${nodeId}`;
}

/** The identity a URI names, or undefined when it is not a node identity URI. */
export function parseNodeIdentityUri(uri: string): NodeIdentity | undefined {
  const match = uriPattern.exec(uri);
  if (match === null) {
    return undefined;
  }
  const nodeId = Number(match[2]);
  return Number.isSafeInteger(nodeId) ? { clusterId: match[1] ?? '', nodeId } : undefined;
}
