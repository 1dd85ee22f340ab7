/**
 * Public surface of @coffer/api. This is the package's only barrel: explicit named re-exports,
 * nothing else (STYLE.md 1.3, 2.3).
 */
export { ApiError, ApiErrorCode } from './errors.ts';
export type { ApiErrorOptions } from './errors.ts';
export { decodeTokenWithOtp, generateRootOtp, verifyAuditFile } from '@coffer/core';
export type { VerifyAuditFileOptions, VerifyAuditFileResult } from '@coffer/core';
export {
  grpcAddressDefault,
  httpAddressDefault,
  loadServerConfig,
  LogLevel,
  serverLimitsDefault,
  validateServerConfig,
} from './server/config.ts';
export type {
  AuditDeviceConfig,
  ListenerConfig,
  ServerConfig,
  ServerLimits,
  ServerSealConfig,
} from './server/config.ts';
export { CofferServer, describeServer, hostPort, serverLogOf } from './server/coffer_server.ts';
export { recoverRaftFromConfig } from './server/raft_recovery.ts';
export type { RaftRecoveryOutcome, RaftRecoveryRequest } from './server/raft_recovery.ts';
export type { CofferServerOptions, ReloadOutcome } from './server/coffer_server.ts';
export { devAddressesDefault, DevServer } from './server/dev_server.ts';
export type { DevServerFiles, DevServerOptions } from './server/dev_server.ts';
export { describeNodeExit, DevCluster, devClusterNodesMax } from './server/dev_cluster.ts';
export type { DevClusterNodeExit, DevClusterOptions } from './server/dev_cluster.ts';
export type {
  DevClusterLayout,
  DevClusterManifest,
  DevClusterNodeLayout,
} from './server/dev_cluster_layout.ts';
export {
  freeLoopbackPorts,
  planExtraNode,
  writeNodeConfig,
  writeSecretFile,
} from './server/dev_cluster_layout.ts';
export { childExecArgv } from './server/dev_cluster_process.ts';
export type { CofferCommand, NodeExit } from './server/dev_cluster_process.ts';
export type { ListenerName } from './server/listener_tls.ts';
export { defaultListenerFactories } from './server/server_listeners.ts';
export type {
  ListenerFactories,
  ListenerStart,
  ServerListener,
} from './server/server_listeners.ts';
export { createSelfSignedTls } from '@coffer/core';
export type { TlsMaterial } from '@coffer/core';
export {
  certificateValidDaysDefault,
  createCertificateAuthority,
  issueCertificate,
} from '@coffer/core';
export type { CertificateAuthorityOptions, CertificateOptions } from '@coffer/core';
export { readTlsFiles } from './tls/tls_files.ts';
export type { ReadTlsFilesOptions, TlsFiles, TlsFilesLog } from './tls/tls_files.ts';
export { hardenProcess, systemHardeningPorts } from './hardening/harden_process.ts';
export type {
  HardeningLog,
  HardeningPorts,
  HardenProcessOptions,
} from './hardening/harden_process.ts';
export {
  GrpcApiServer,
  inFlightMaxDefault,
  messageBytesMaxDefault,
} from './grpc/grpc_api_server.ts';
export type {
  GrpcApiServerOptions,
  GrpcLimits,
  GrpcRequestEvent,
  RequestHandler,
} from './grpc/grpc_api_server.ts';
export { grpcStatusOf, statusOf } from './grpc/status_table.ts';
export { HttpListener } from './http/http_listener.ts';
export type { CoreRequestHandler, HttpListenerOptions } from './http/http_listener.ts';
export { ApiMetrics } from './metrics/api_metrics.ts';
export type {
  ApiMetricsOptions,
  MetricsRaftSnapshot,
  MetricsSnapshot,
  MetricsSource,
  RequestObservation,
} from './metrics/api_metrics.ts';
