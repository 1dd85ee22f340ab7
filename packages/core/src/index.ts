/**
 * Public surface of @coffer/core. This is the package's only barrel: explicit named re-exports,
 * nothing else (STYLE.md 1.3, 2.3).
 */
export { CoreError, CoreErrorCode } from './errors.ts';
export type { CoreErrorOptions } from './errors.ts';
export { Barrier } from './barrier/barrier.ts';
export type { ApplyKeyringChangeOptions, BarrierOptions } from './barrier/barrier.ts';
export {
  ciphertextOverheadBytes,
  ciphertextVersion,
  readCiphertextHeader,
} from './barrier/ciphertext_format.ts';
export type { CiphertextHeader } from './barrier/ciphertext_format.ts';
export { IdentifierPurpose, KeyPurpose } from './barrier/key_derivation.ts';
export type { KeyringStatus, KeyTermStatus } from './barrier/keyring.ts';
export { initializeKeyring } from './barrier/keyring_change.ts';
export type { KeyringChange, KeyringChangeKind } from './barrier/keyring_change.ts';
export type {
  KeyringChangeOutcome,
  KeyringChangeRefusalCode,
  TermReferencedPredicate,
} from './barrier/keyring_transition.ts';
export { rotationPolicyDefault } from './barrier/rotation_policy.ts';
export type { RotationPolicy } from './barrier/rotation_policy.ts';
export { SecretKey } from './barrier/secret_key.ts';
export { AttemptLimiter } from './seal/attempt_limiter.ts';
export type { AttemptCheck, AttemptLimiterOptions } from './seal/attempt_limiter.ts';
export { backoffDelayMs, retryWithBackoff } from './seal/backoff.ts';
export type { AttemptOutcome, BackoffOptions } from './seal/backoff.ts';
export { createBreakGlass, createBreakGlassQuorum } from './seal/break_glass.ts';
export type { BreakGlassQuorumOptions, BreakGlassResult } from './seal/break_glass.ts';
export { Pkcs11Mechanism } from './seal/pkcs11_config.ts';
export type { OaepHash, Pkcs11SealConfig } from './seal/pkcs11_config.ts';
export { Pkcs11Seal, waitForSeal } from './seal/pkcs11_seal.ts';
export type { Pkcs11SealOptions } from './seal/pkcs11_seal.ts';
export {
  createRecoveryKey,
  createRecoveryQuorum,
  createRecoveryRekeyQuorum,
} from './seal/recovery_key.ts';
export type {
  RecoveryAuthorization,
  RecoveryKeyResult,
  RecoveryQuorumOptions,
} from './seal/recovery_key.ts';
export { createRekeyQuorum } from './seal/rekey.ts';
export type { RekeyOptions, RekeyResult } from './seal/rekey.ts';
export { SealType, SealUnavailableReason, silentSealLogger } from './seal/seal_provider.ts';
export type {
  SealBinding,
  SealClock,
  SealLogger,
  SealProvider,
  SealStatus,
} from './seal/seal_provider.ts';
export {
  createUnsealQuorum,
  generateRootKey,
  initShamir,
  rootKeySizeBytes,
  ShamirSeal,
} from './seal/shamir_seal.ts';
export type { ShamirInitResult, StoredQuorumOptions } from './seal/shamir_seal.ts';
export { shareConfigDefault, sharesMax, validateShareConfig } from './seal/shamir.ts';
export type { ShareConfig } from './seal/shamir.ts';
export { encodeShare, sharePrefix } from './seal/share_encoding.ts';
export { ShareQuorum } from './seal/share_quorum.ts';
export type {
  QuorumKind,
  QuorumProgress,
  QuorumRefusalCode,
  QuorumStep,
  ShareQuorumOptions,
  SubmitOptions,
} from './seal/share_quorum.ts';
export { CoreStateMachine } from './replicated/core_state_machine.ts';
export {
  SecureStore,
  unsealFromState,
  type SecureStoreOptions,
} from './replicated/secure_store.ts';
export { keyringPath } from './replicated/system_paths.ts';
export { CofferNode } from './lifecycle/coffer_node.ts';
export { loneTransport, monotonicClock, singleVoterConfState } from './lifecycle/single_voter.ts';
export type { CofferNodeOptions, NodeSealSetting, UnsealStep } from './lifecycle/coffer_node.ts';
export { ClusterEventType } from './events/event_journal.ts';
export type { ClusterEvent, ClusterEventBody } from './events/event_journal.ts';
export { eventsPath } from './events/event_routes.ts';
export type { NodeEventsSettings } from './events/node_events.ts';
export type { DeclaredAuditDevice } from './lifecycle/request_services.ts';
export type { InitRequest, InitResult } from './lifecycle/cluster_init.ts';
export type { GenerateRootProgress, GenerateRootStep } from './lifecycle/generate_root.ts';
export type { AutoUnsealBackoff } from './lifecycle/hsm_auto_unseal.ts';
export type { NodeStatus, UnsealProgress } from './lifecycle/node_status.ts';
export type { NodeMetrics, RaftMetrics } from './lifecycle/node_metrics.ts';
export { lifecyclePaths } from './lifecycle/lifecycle_endpoints.ts';
export type { RaftRunnerOptions } from './lifecycle/raft_runner.ts';
export type { RekeyProgress, RekeyStep } from './lifecycle/rekey_flow.ts';
export type { SealMigrationTarget } from './lifecycle/seal_migration.ts';
export { tokenEntryPath, tokenIdLength, tokenIdPrefix } from './lifecycle/root_token.ts';
export type { TokenEntry } from './lifecycle/root_token.ts';
export {
  decodeTokenWithOtp,
  encodeTokenForOtp,
  generateRootOtp,
} from './lifecycle/root_token_otp.ts';
export {
  breakGlassPath,
  recoveryCheckPath,
  sealRecordPath,
  wrappedRootKeyPath,
} from './lifecycle/seal_paths.ts';
export { gateRequest, sealedGatePaths } from './lifecycle/sealed_gate.ts';
export type { GateDecision, GateRequest } from './lifecycle/sealed_gate.ts';
export { Consistency, Operation } from './router/request.ts';
export type {
  AuthInfo,
  CoreFailure,
  CoreRequest,
  CoreResponse,
  CoreSuccess,
  LeaseInfo,
  RequestData,
  StaleRead,
  WrapInfo,
} from './router/request.ts';
export { validateRequestPath } from './router/request_path.ts';
export type { RequestPath } from './router/request_path.ts';
export { verifyAuditFile } from './audit/verify_audit_file.ts';
export type { VerifyAuditFileOptions, VerifyAuditFileResult } from './audit/verify_audit_file.ts';
export { auditHash } from './audit/audit_hash.ts';
export { parsePolicy } from './policy/policy_parser.ts';
export type { Capability, Policy } from './policy/policy_types.ts';
export { createServerLog, redactedFieldNames, silentServerLog } from './logging/server_log.ts';
export type { LogFields, ServerLog, ServerLogOptions } from './logging/server_log.ts';
export { reopenAuditFilesOnSignal } from './lifecycle/audit_rotation.ts';
export {
  decodeRaftMessage,
  encodeRaftMessage,
  isBulkRaftMessage,
  raftMessageRoute,
  raftWireVersion,
} from './cluster/raft_wire.ts';
export type { RaftMessage, Transport } from './cluster/raft_wire.ts';
export {
  certificateValidDaysDefault,
  createCertificateAuthority,
  createSelfSignedTls,
  issueCertificate,
  issueNodeCertificate,
} from './cluster/certificates.ts';
export type {
  CertificateAuthorityOptions,
  CertificateOptions,
  NodeCertificateOptions,
  TlsMaterial,
} from './cluster/certificates.ts';
export { nodeIdentityUri, parseNodeIdentityUri } from './cluster/node_identity_uri.ts';
export type { NodeIdentity } from './cluster/node_identity_uri.ts';
export { ClusterPeerVerifier, PeerRefusal, peerRefusedError } from './cluster/peer_verification.ts';
export type { ClusterTrust, PeerCheck } from './cluster/peer_verification.ts';
export {
  NodeClusterIdentity,
  certificateLifetimeMsDefault,
} from './cluster/node_cluster_identity.ts';
export type {
  ClusterTlsMaterial,
  NodeClusterIdentityOptions,
} from './cluster/node_cluster_identity.ts';
export {
  clusterAuthorityPath,
  ensureClusterAuthority,
  readClusterAuthority,
} from './cluster/cluster_authority.ts';
export type { ClusterAuthority } from './cluster/cluster_authority.ts';
export type { ClusterPresenceOptions } from './lifecycle/cluster_presence.ts';
export type { JoinGrant, JoinRequest } from './cluster/cluster_join.ts';
export { acceptGrant, prepareJoin } from './cluster/joiner.ts';
export type { AcceptedGrant, PendingJoin } from './cluster/joiner.ts';
export { decodeJoinToken } from './cluster/join_token.ts';
export type { JoinToken } from './cluster/join_token.ts';
export { readMember } from './cluster/cluster_members.ts';
export type { MemberAddresses } from './cluster/cluster_members.ts';
export type { GrantedIdentity } from './cluster/node_cluster_identity.ts';
export { ClusterMembership, joinTokenTtlMsDefault } from './lifecycle/cluster_membership.ts';
export type { PeerInfo } from './lifecycle/cluster_membership.ts';
export { parseRecoveryPeers, peersCountMax, peersFileBytesMax } from './cluster/recovery_peers.ts';
export type { RecoveryPeer } from './cluster/recovery_peers.ts';
export { recoverRaftMembership } from './lifecycle/raft_recovery.ts';
export type { RaftRecoveryOptions, RaftRecoveryReport } from './lifecycle/raft_recovery.ts';
