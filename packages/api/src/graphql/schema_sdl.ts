/**
 * The GraphQL schema of the management API, in SDL: the source of truth. `schema.graphql`
 * beside it is this text printed by graphql-js (schema_file.test.ts fails when they differ;
 * `npm run generate:graphql -w @coffer/api` rewrites it), so a schema change shows in review.
 *
 * Invariant: every type, field and argument has a description (schema_file.test.ts checks).
 * Every Query and Mutation field is one router request, and every poll of a Subscription field
 * one (field_routes.ts); the description names the path so an operator can write the policy
 * that grants it.
 */

const statusTypes = `
"A node's seal and health state (the data of sys/seal-status and sys/health)."
type NodeStatus {
  "Whether the cluster has been initialized."
  initialized: Boolean!
  "Whether this node is sealed."
  sealed: Boolean!
  "Unsealed, initialized and not the active node."
  standby: Boolean!
  "The configured seal type: shamir or pkcs11."
  sealType: String!
  "The cluster id, once init reached this node."
  clusterId: String
  "Shares needed to unseal (Shamir seal), when known."
  threshold: Int
  "Shares made at init (Shamir seal), when known."
  shares: Int
  "Shares submitted towards the current unseal attempt."
  progress: Int!
  "The current unseal attempt's nonce, when one is running."
  nonce: String
}

"A change that answers nothing but warnings."
type Acknowledgement {
  "Warnings the router attached to its answer (for example: no voter to step down to)."
  warnings: [String!]!
}

"A key and its value, for string maps (mount options, token metadata)."
type KeyValue {
  "The key."
  key: String!
  "The value."
  value: String!
}

"A key and its value, for string maps given as arguments."
input KeyValueInput {
  "The key."
  key: String!
  "The value."
  value: String!
}
`;

const clusterTypes = `
"The Raft cluster as the active node sees it (sys/storage/raft/autopilot/state)."
type Cluster {
  "The node id of the leader."
  leader: String!
  "Whether every member is healthy."
  healthy: Boolean!
  "How many voters the cluster can lose and keep a quorum."
  failureTolerance: Int!
  "Every member: voters and non-voters."
  members: [ClusterMember!]!
}

"One member of the cluster."
type ClusterMember {
  "The node id."
  id: String!
  "The cluster port address other nodes dial."
  address: String!
  "The API address clients are told."
  apiAddress: String!
  "leader, voter or non-voter."
  status: String!
  "Whether the member votes (the leader does)."
  voter: Boolean!
  "Milliseconds since the leader last heard from it; 0 for the leader, -1 for never."
  lastContactMs: Int!
  "The term of the last entry the leader knows it holds."
  lastTerm: Int!
  "The index of the last entry the leader knows it holds."
  lastIndex: Int!
  "Heard from recently and not trailing too far."
  healthy: Boolean!
}
`;

const mountTypes = `
"A mounted secrets engine or auth method (sys/mounts, sys/auth)."
type Mount {
  "The mount path, ending in a slash."
  path: String!
  "The engine or method type (kv, approle, token, ...)."
  type: String!
  "The operator's description."
  description: String!
  "The mount's accessor."
  accessor: String!
  "The default lease TTL in seconds."
  defaultLeaseTtlSeconds: Int!
  "The maximum lease TTL in seconds."
  maxLeaseTtlSeconds: Int!
  "The mount's options (for kv: version)."
  options: [KeyValue!]!
}

"How to enable a secrets engine or an auth method."
input MountInput {
  "The engine or method type (kv, approle)."
  type: String!
  "A description shown in listings."
  description: String
  "The default lease TTL, as a duration (300, 5m, 1h)."
  defaultLeaseTtl: String
  "The maximum lease TTL, as a duration."
  maxLeaseTtl: String
  "Engine options (for kv: version = 2)."
  options: [KeyValueInput!]
}

"How to tune a mount; absent fields keep their value."
input TuneInput {
  "The default lease TTL, as a duration."
  defaultLeaseTtl: String
  "The maximum lease TTL, as a duration."
  maxLeaseTtl: String
  "A new description."
  description: String
}

"An audit device (sys/audit)."
type AuditDevice {
  "The device path, ending in a slash."
  path: String!
  "The device type: file."
  type: String!
  "The operator's description."
  description: String!
  "The device options (file_path, fsync, ...)."
  options: [KeyValue!]!
}
`;

const policyTokenTypes = `
"An ACL policy (sys/policies/acl/:name)."
type Policy {
  "The policy name."
  name: String!
  "The policy document (HCL or JSON) as written."
  text: String!
}

"A token's properties, never its id (auth/token/lookup-accessor)."
type TokenInfo {
  "The token's accessor."
  accessor: String!
  "The display name given at creation."
  displayName: String!
  "The policies the token carries."
  policies: [String!]!
  "Seconds left before it expires; 0 when it does not."
  ttlSeconds: Int!
  "When it expires (RFC 3339), if it does."
  expireTime: String
  "When it was issued (RFC 3339)."
  issueTime: String!
  "Uses left; 0 for unlimited."
  numUses: Int!
  "Whether it has no parent."
  orphan: Boolean!
  "Whether it can be renewed."
  renewable: Boolean!
  "The path that created it."
  path: String!
  "Its metadata."
  metadata: [KeyValue!]!
}

"How to create a token (auth/token/create)."
input TokenCreateInput {
  "Policies for the new token (a subset of the caller's unless it has sudo)."
  policies: [String!]
  "Leave out the default policy."
  noDefaultPolicy: Boolean
  "Make the token non-renewable."
  notRenewable: Boolean
  "The TTL, as a duration."
  ttl: String
  "A TTL it can never be renewed past, as a duration."
  explicitMaxTtl: String
  "Make it a periodic token with this period, as a duration."
  period: String
  "How many uses it has; 0 for unlimited."
  numUses: Int
  "A display name."
  displayName: String
  "Metadata stored with it (never secret: it shows in lookups)."
  metadata: [KeyValueInput!]
}

"A newly created token. The only answer that holds a token id."
type CreatedToken {
  "The token id: a secret, shown once."
  clientToken: String!
  "The token's accessor."
  accessor: String!
  "The policies it carries."
  policies: [String!]!
  "Its TTL in seconds."
  ttlSeconds: Int!
  "Whether it can be renewed."
  renewable: Boolean!
  "Whether it has no parent."
  orphan: Boolean!
}
`;

const leaseKeyringTypes = `
"The keys under a lease prefix (sys/leases/lookup/*prefix)."
type LeaseList {
  "The keys one level below the prefix; a key ending in a slash is a prefix itself."
  keys: [LeaseKey!]!
  "Whether the list stopped early (list a longer prefix)."
  truncated: Boolean!
}

"One key under a lease prefix."
type LeaseKey {
  "The key below the prefix."
  key: String!
  "The full lease id, or null for a key that is a prefix."
  leaseId: String
  "The lease with its expiry (one read of sys/leases/lookup); null for a prefix."
  lease: Lease
}

"A lease (sys/leases/lookup)."
type Lease {
  "The lease id."
  id: String!
  "When it was issued (RFC 3339)."
  issueTime: String!
  "When it expires (RFC 3339)."
  expireTime: String!
  "When it was last renewed (RFC 3339), if ever."
  lastRenewal: String
  "Whether it can be renewed."
  renewable: Boolean!
  "Seconds left."
  ttlSeconds: Int!
}

"A renewed lease (sys/leases/renew)."
type LeaseRenewal {
  "The lease id."
  leaseId: String!
  "Its new duration in seconds."
  leaseDurationSeconds: Int!
  "Whether it can be renewed again."
  renewable: Boolean!
  "Warnings (for example: capped by the maximum TTL)."
  warnings: [String!]!
}

"The barrier keyring (sys/key-status)."
type KeyringStatus {
  "The active key term."
  term: Int!
  "When the active key was installed (RFC 3339)."
  installTime: String!
  "Encryptions done under the active key."
  encryptions: Float!
  "The keyring's generation."
  generation: Int!
  "Every term the keyring holds."
  terms: [KeyTerm!]!
}

"One key term of the keyring."
type KeyTerm {
  "The term."
  term: Int!
  "When it was installed (RFC 3339)."
  installTime: String!
  "Encryptions done under it."
  encryptions: Float!
}

"A summary of the node's metrics (the same numbers as /v1/sys/metrics)."
type MetricsSummary {
  "Whether the node is sealed."
  sealed: Boolean!
  "Whether the cluster is initialized."
  initialized: Boolean!
  "Whether this node is the active node."
  active: Boolean!
  "The Raft term, when Raft runs."
  raftTerm: Int
  "The Raft commit index, when Raft runs."
  raftCommitIndex: Float
  "The Raft applied index, when Raft runs."
  raftAppliedIndex: Float
  "The leader's node id as this node knows it, when Raft runs."
  raftLeaderId: Int
  "Audit writes that failed."
  auditFailures: Float!
  "Leader changes this node saw."
  leaderChanges: Float!
  "Requests this node forwarded to the active node."
  forwardedRequests: Float!
  "Reads this node served as a standby."
  standbyReads: Float!
}
`;

const queryType = `
"What an operator can read. Each field is one request to the core router; a field the router refuses is null with an error whose extensions.code says why, and the other fields still answer."
type Query {
  "The seal state (read sys/seal-status). Answers on a sealed node, without a token."
  sealStatus: NodeStatus
  "The node's health (read sys/health). Answers on a sealed node, without a token."
  health: NodeStatus
  "The cluster and its members (read sys/storage/raft/autopilot/state, sudo)."
  cluster: Cluster
  "The secrets engines (read sys/mounts)."
  secretsEngines: [Mount!]
  "The auth methods (read sys/auth)."
  authMethods: [Mount!]
  "The ACL policy names (list sys/policies/acl)."
  policies: [String!]
  "One ACL policy with its text (read sys/policies/acl/:name)."
  policy("The policy name." name: String!): Policy
  "A token's properties by its accessor (update auth/token/lookup-accessor)."
  tokenByAccessor("The token's accessor." accessor: String!): TokenInfo
  "The leases under a prefix (list sys/leases/lookup/*prefix, sudo)."
  leases("A lease prefix, e.g. secret/ or auth/approle/login/." prefix: String!): LeaseList
  "The audit devices (read sys/audit, sudo)."
  auditDevices: [AuditDevice!]
  "The barrier keyring (read sys/key-status, sudo)."
  keyring: KeyringStatus
  "A metrics summary (authorized by read on sys/metrics, as the HTTP scrape is)."
  metrics: MetricsSummary
}
`;

const mutationType = `
"What an operator can change. Each field is one request to the core router, run in order; a refused one is null with an error whose extensions.code says why."
type Mutation {
  "Submits one unseal share (update sys/unseal). Answers on a sealed node, without a token."
  unseal(
    "An unseal share; omit it with reset to start over."
    key: String
    "Discard the shares submitted so far."
    reset: Boolean
  ): NodeStatus
  "Seals this node (update sys/seal, sudo)."
  seal: Acknowledgement
  "Hands leadership to another voter (update sys/step-down, sudo)."
  stepDown: Acknowledgement
  "Makes a non-voter a voter (update sys/storage/raft/promote, sudo)."
  promotePeer("The member's node id." serverId: Int!): Acknowledgement
  "Makes a voter a non-voter (update sys/storage/raft/demote, sudo)."
  demotePeer("The member's node id." serverId: Int!): Acknowledgement
  "Removes a member (update sys/storage/raft/remove-peer, sudo)."
  removePeer("The member's node id." serverId: Int!): Acknowledgement
  "Writes an ACL policy (update sys/policies/acl/:name)."
  writePolicy(
    "The policy name."
    name: String
    "The policy document (HCL or JSON)."
    text: String
  ): Acknowledgement
  "Deletes an ACL policy (delete sys/policies/acl/:name)."
  deletePolicy("The policy name." name: String!): Acknowledgement
  "Enables a secrets engine (update sys/mounts/*path)."
  enableSecretsEngine("The mount path." path: String!, "The engine." input: MountInput!): Acknowledgement
  "Tunes a secrets engine (update sys/mounts/*path/tune)."
  tuneSecretsEngine("The mount path." path: String!, "The changes." input: TuneInput!): Acknowledgement
  "Disables a secrets engine and deletes its data (delete sys/mounts/*path)."
  disableSecretsEngine("The mount path." path: String!): Acknowledgement
  "Enables an auth method (update sys/auth/*path)."
  enableAuthMethod("The path below auth/." path: String!, "The method." input: MountInput!): Acknowledgement
  "Tunes an auth method (update sys/auth/*path/tune)."
  tuneAuthMethod("The path below auth/." path: String!, "The changes." input: TuneInput!): Acknowledgement
  "Disables an auth method (delete sys/auth/*path)."
  disableAuthMethod("The path below auth/." path: String!): Acknowledgement
  "Enables an audit device (update sys/audit/:name, sudo)."
  enableAuditDevice(
    "The device name."
    path: String
    "The device type: file."
    type: String
    "A description."
    description: String
    "Device options: file_path (absolute), fsync."
    options: [KeyValueInput!]
  ): Acknowledgement
  "Disables an audit device (delete sys/audit/:name, sudo)."
  disableAuditDevice("The device name." path: String!): Acknowledgement
  "Creates a child of the caller's token (update auth/token/create)."
  createToken("The token's properties." input: TokenCreateInput!): CreatedToken
  "Creates a token without a parent (update auth/token/create-orphan, sudo)."
  createOrphanToken("The token's properties." input: TokenCreateInput!): CreatedToken
  "Revokes a token and its children (update auth/token/revoke)."
  revokeToken("The token id." token: String!): Acknowledgement
  "Revokes a token and its children by accessor (update auth/token/revoke-accessor)."
  revokeTokenByAccessor("The token's accessor." accessor: String!): Acknowledgement
  "Renews a lease (update sys/leases/renew)."
  renewLease(
    "The lease id."
    leaseId: String
    "The requested extension, as a duration."
    increment: String
  ): LeaseRenewal
  "Revokes a lease (update sys/leases/revoke)."
  revokeLease("The lease id." leaseId: String!): Acknowledgement
  "Rotates the barrier key (update sys/rotate, sudo)."
  rotateKeyring: KeyringStatus
}
`;

const subscriptionType = `
"""
Cluster events as the node this connection reaches sees them, one per message, over
Server-Sent Events (POST with Accept: text/event-stream). Each poll of the subscription is one
router request (read sys/events), so the token is checked on every poll: an expired, revoked
or unauthorized token, or a sealed node, ends the subscription with that error.
"""
type Subscription {
  """
  This node's cluster events after an index (read sys/events, polled): leader changes, seal
  and unseal of this node, peer health changes (seen by the active node), lease revocations
  (by the active node). Without after, from now on. To resume after a reconnect, pass the last
  event's index and epoch: a cursor the node no longer holds (another epoch, or out of the
  retention window) ends it with COFFER_CORE_EVENTS_INDEX_EXPIRED.
  """
  clusterEvents(
    "The index of the last event the client has; absent: only events from now on."
    after: Int
    "The epoch that index belongs to (from the event); absent: this node's."
    epoch: String
  ): ClusterEvent
}
`;

const eventTypes = `
"The kinds of cluster events."
enum ClusterEventType {
  "This node saw another leader, or none (leaderId null)."
  LEADER_CHANGE
  "This node was sealed."
  SEALED
  "This node was unsealed."
  UNSEALED
  "The active node saw a member become healthy or unhealthy."
  PEER_HEALTH
  "A lease was revoked (expired, revoked on request or with its token)."
  LEASE_REVOKED
}

"One event of a node's journal."
type ClusterEvent {
  "The event's index: one more than the previous event's, within its epoch."
  index: Int!
  "The id of the journal the index counts in (one per node process)."
  epoch: String!
  "What happened."
  type: ClusterEventType!
  "When the node journaled it (RFC 3339)."
  time: String!
  "LEADER_CHANGE: the new leader's node id, null when the node knows none."
  leaderId: String
  "LEADER_CHANGE: the Raft term the node saw it in."
  term: Int
  "PEER_HEALTH: the member's node id."
  peerId: String
  "PEER_HEALTH: whether the member is healthy now."
  healthy: Boolean
  "LEASE_REVOKED: the lease id (never a token or a secret)."
  leaseId: String
}
`;

/** The schema's SDL. */
export const schemaSdl: string = [
  queryType,
  mutationType,
  subscriptionType,
  eventTypes,
  statusTypes,
  clusterTypes,
  mountTypes,
  policyTokenTypes,
  leaseKeyringTypes,
].join('');
