/**
 * The HTTP status of every core error code, in one table (STYLE.md 5.5): a new core code does
 * not compile until it is mapped here. Statuses follow Vault's where Vault has the case.
 */
import { CoreErrorCode } from '@coffer/core';

const badRequest = 400;
const forbidden = 403;
const notFound = 404;
const methodNotAllowed = 405;
const conflict = 409;
const gone = 410;
const payloadTooLarge = 413;
const tooManyRequests = 429;
const internalError = 500;
const unavailable = 503;

/** The HTTP status a refusal with each core code is answered with. */
export const coreHttpStatus = {
  [CoreErrorCode.sealed]: unavailable,
  [CoreErrorCode.barrierDecryptFailed]: internalError,
  [CoreErrorCode.barrierInvalidCiphertext]: internalError,
  [CoreErrorCode.barrierUnknownTerm]: internalError,
  [CoreErrorCode.barrierReservationExhausted]: unavailable,
  [CoreErrorCode.barrierRotationRequired]: unavailable,
  [CoreErrorCode.barrierTermInUse]: conflict,
  [CoreErrorCode.barrierInvalidConfig]: badRequest,
  [CoreErrorCode.barrierAlreadyUnsealed]: badRequest,
  [CoreErrorCode.keyringCorrupt]: internalError,
  [CoreErrorCode.keyringChangeStale]: conflict,
  [CoreErrorCode.keyringChangeInvalid]: internalError,
  [CoreErrorCode.sealUnavailable]: unavailable,
  [CoreErrorCode.sealConfigInvalid]: internalError,
  [CoreErrorCode.sealPinFileInsecure]: internalError,
  [CoreErrorCode.sealKeyExists]: badRequest,
  [CoreErrorCode.rootKeyBlobInvalid]: internalError,
  [CoreErrorCode.rootKeyUnwrapFailed]: internalError,
  [CoreErrorCode.unsealFailed]: badRequest,
  [CoreErrorCode.shareMalformed]: badRequest,
  [CoreErrorCode.shareDuplicate]: badRequest,
  [CoreErrorCode.unsealNonceMismatch]: badRequest,
  [CoreErrorCode.unsealRateLimited]: tooManyRequests,
  [CoreErrorCode.breakGlassNotConfigured]: badRequest,
  [CoreErrorCode.notInitialized]: unavailable,
  [CoreErrorCode.notActive]: unavailable,
  [CoreErrorCode.noLeader]: unavailable,
  [CoreErrorCode.notReady]: unavailable,
  [CoreErrorCode.removed]: unavailable,
  [CoreErrorCode.writeRefused]: conflict,
  [CoreErrorCode.snapshotMismatch]: internalError,
  [CoreErrorCode.unknownEntry]: internalError,
  [CoreErrorCode.alreadyInitialized]: badRequest,
  [CoreErrorCode.sealRecordInvalid]: internalError,
  [CoreErrorCode.sealTypeMismatch]: badRequest,
  [CoreErrorCode.attemptInvalid]: badRequest,
  [CoreErrorCode.sealMigrationRunning]: conflict,
  [CoreErrorCode.sealMigrationTargetMissing]: badRequest,
  [CoreErrorCode.permissionDenied]: forbidden,
  [CoreErrorCode.invalidPath]: badRequest,
  [CoreErrorCode.invalidRequest]: badRequest,
  [CoreErrorCode.valueTooLarge]: payloadTooLarge,
  [CoreErrorCode.notFound]: notFound,
  [CoreErrorCode.unsupportedOperation]: methodNotAllowed,
  [CoreErrorCode.staleReadRefused]: badRequest,
  [CoreErrorCode.casMismatch]: badRequest,
  [CoreErrorCode.loginFailed]: badRequest,
  [CoreErrorCode.rateLimited]: tooManyRequests,
  [CoreErrorCode.auditUnavailable]: unavailable,
  [CoreErrorCode.auditChainBroken]: internalError,
  [CoreErrorCode.policyInvalid]: badRequest,
  [CoreErrorCode.mountConflict]: badRequest,
  [CoreErrorCode.leaseInvalid]: badRequest,
  [CoreErrorCode.clusterPeerRefused]: forbidden,
  [CoreErrorCode.joinRefused]: forbidden,
  [CoreErrorCode.peersInvalid]: badRequest,
  [CoreErrorCode.dataDirInUse]: conflict,
  [CoreErrorCode.recoveryRefused]: conflict,
  [CoreErrorCode.eventsIndexExpired]: gone,
  [CoreErrorCode.clusterAuthorityInvalid]: internalError,
  [CoreErrorCode.clusterIdentityUnavailable]: unavailable,
  [CoreErrorCode.internal]: internalError,
} as const satisfies Record<CoreErrorCode, number>;

/** The HTTP status for a core code; an unknown string (a newer core) is a 500. */
export function httpStatusOfCoreCode(code: string): number {
  return Object.hasOwn(coreHttpStatus, code)
    ? coreHttpStatus[code as CoreErrorCode]
    : internalError;
}
