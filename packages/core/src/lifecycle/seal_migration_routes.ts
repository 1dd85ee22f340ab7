/**
 * The seal migration routes of `sys/` (docs/design/seal.md, "Seal migration in a cluster"),
 * shaped like Vault's rekey endpoints and served by the router on the active node (a standby
 * forwards them, like every write and every `sys/` read), sudo like `sys/rotate`:
 *
 *   update sys/seal-migration/init    {type, secret_shares, secret_threshold, generate_hsm_key}
 *                                     starts an attempt; refused with
 *                                     COFFER_CORE_SEAL_MIGRATION_RUNNING while one runs
 *   update sys/seal-migration/update  {key, nonce}: one current share (unseal shares from
 *                                     Shamir, recovery shares from PKCS#11); the last one
 *                                     commits the new seal records through Raft and answers
 *                                     the new shares (`keys` or `recovery_keys`)
 *   read   sys/seal-migration         the running attempt (started, nonce, t, n, progress,
 *                                     target type, new share counts)
 *   delete sys/seal-migration         cancels it; nothing changed
 *
 * Why the router and not the lifecycle endpoints (where rekey lives): a migration needs an
 * unsealed active node anyway, and a token with sudo is a second gate besides the shares;
 * through the router the policy governs it in every API and the audit log records it (shares in
 * the request and the response are HMAC'd there like every string).
 *
 * Invariant: a request names the target type only. A PKCS#11 target's settings, PIN file
 * included, come from the active node's server config (`seal_migration_target`).
 */
import { CoreError, CoreErrorCode } from '../errors.ts';
import type { Route } from '../router/backend.ts';
import { FieldType } from '../router/fields.ts';
import { SealType } from '../seal/seal_provider.ts';
import type { RekeyProgress, RekeyStep } from './rekey_flow.ts';
import type { SealMigrationRequest } from './seal_migration.ts';

/** A running migration, as shown to the share holders. Not secret. */
export interface SealMigrationProgress extends RekeyProgress {
  /** The seal the cluster migrates to. */
  readonly target: SealType;
}

/** What the routes need from the node. */
export interface SealMigrationPort {
  /** Starts an attempt (throws COFFER_CORE_SEAL_MIGRATION_RUNNING when one runs). */
  readonly startSealMigration: (request: SealMigrationRequest) => SealMigrationProgress;
  readonly submitSealMigrationShare: (
    share: string,
    options: { readonly nonce: string },
  ) => Promise<RekeyStep>;
  readonly sealMigrationProgress: () => SealMigrationProgress | undefined;
  readonly cancelSealMigration: () => void;
}

/** The answer of a read, and of a share that did not complete the quorum. */
export function sealMigrationData(
  progress: SealMigrationProgress | undefined,
): Record<string, unknown> {
  if (progress === undefined) {
    return { started: false, nonce: '', t: 0, n: 0, progress: 0, target_type: '' };
  }
  return {
    started: true,
    nonce: progress.attemptNonce,
    t: progress.threshold,
    n: progress.shares,
    progress: progress.progress,
    target_type: progress.target,
    new_shares: progress.next.shares,
    new_threshold: progress.next.threshold,
  };
}

function targetTypeOf(value: unknown): SealType {
  if (value === SealType.shamir || value === SealType.pkcs11) {
    return value;
  }
  throw new CoreError(
    CoreErrorCode.invalidRequest,
    'Give "type" as the seal to migrate to: "shamir" or "pkcs11"',
  );
}

function migrationRequestOf(fields: Readonly<Record<string, unknown>>): SealMigrationRequest {
  const shares = fields['secret_shares'];
  const threshold = fields['secret_threshold'];
  if ((shares === undefined) !== (threshold === undefined)) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Give both "secret_shares" and "secret_threshold" for the new shares, or neither (5 of 3)',
    );
  }
  const type = targetTypeOf(fields['type']);
  if (type === SealType.shamir && fields['generate_hsm_key'] === true) {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Leave out "generate_hsm_key" for a Shamir target: it makes the key of a PKCS#11 target',
    );
  }
  return {
    type,
    ...(typeof shares === 'number' && typeof threshold === 'number'
      ? { shares: { shares, threshold } }
      : {}),
    ...(fields['generate_hsm_key'] === true ? { generateHsmKey: true } : {}),
  };
}

function shareOf(fields: Readonly<Record<string, unknown>>): {
  readonly key: string;
  readonly nonce: string;
} {
  const key = fields['key'];
  const nonce = fields['nonce'];
  if (typeof key !== 'string' || key === '' || typeof nonce !== 'string' || nonce === '') {
    throw new CoreError(
      CoreErrorCode.invalidRequest,
      'Send one current share in "key" and the attempt\'s "nonce"',
    );
  }
  return { key, nonce };
}

/** The answer of one share of a migration to `target`: progress, or the new shares. */
function stepData(
  step: Extract<RekeyStep, { ok: true }>,
  target: SealType,
): Record<string, unknown> {
  if (!step.done) {
    return { complete: false, ...sealMigrationData({ ...step.progress, target }) };
  }
  // NB: named as init names them: unseal shares are `keys`, an HSM's are `recovery_keys`.
  const toHsm = target === SealType.pkcs11;
  return {
    complete: true,
    seal_type: target,
    keys: toHsm ? [] : step.shares,
    recovery_keys: toHsm ? step.shares : [],
  };
}

/** A refused share as the router answers it (its retry hint in the message, which it reads). */
function refusalOf(step: Extract<RekeyStep, { ok: false }>): CoreError {
  const hinted = step.retryAfterMs === undefined || /retry after \d+ ms/i.test(step.message);
  return new CoreError(
    step.code,
    hinted ? step.message : `${step.message}; retry after ${String(step.retryAfterMs)} ms`,
  );
}

/** Submits one share of the running attempt (whose target the answer needs). */
async function submitShare(
  port: SealMigrationPort,
  fields: Readonly<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  const share = shareOf(fields);
  const running = port.sealMigrationProgress();
  const step = await port.submitSealMigrationShare(share.key, { nonce: share.nonce });
  if (!step.ok) {
    throw refusalOf(step);
  }
  // NB: a counted share means the attempt named by the nonce was running before it.
  return stepData(step, running?.target ?? SealType.shamir);
}

/** The routes of `sys/seal-migration`. */
export function sealMigrationRoutes(port: SealMigrationPort): readonly Route[] {
  return [
    {
      pattern: 'seal-migration',
      sudo: true,
      operations: {
        read: () => Promise.resolve({ data: sealMigrationData(port.sealMigrationProgress()) }),
        delete: () => {
          port.cancelSealMigration();
          return Promise.resolve({});
        },
      },
    },
    {
      pattern: 'seal-migration/init',
      sudo: true,
      fields: {
        type: { type: FieldType.string, required: true, description: 'shamir or pkcs11' },
        secret_shares: { type: FieldType.int, description: 'how many new shares' },
        secret_threshold: { type: FieldType.int, description: 'new shares needed' },
        generate_hsm_key: { type: FieldType.bool, description: 'make the HSM key' },
      },
      operations: {
        update: (request) =>
          Promise.resolve({
            data: sealMigrationData(port.startSealMigration(migrationRequestOf(request.fields))),
          }),
      },
    },
    {
      pattern: 'seal-migration/update',
      sudo: true,
      fields: {
        key: { type: FieldType.string, required: true, description: 'one current share' },
        nonce: { type: FieldType.string, required: true, description: 'the attempt nonce' },
      },
      operations: {
        update: async (request) => ({ data: await submitShare(port, request.fields) }),
      },
    },
  ];
}
