/**
 * The server reads secrets only from files its config names (STYLE.md 5.7, PRODUCT.md): an
 * environment variable is visible in /proc/<pid>/environ to the same user and is inherited by
 * every child. So outside dev mode the server refuses to start while a variable that is known
 * to carry a secret is set, and says which one (never its value).
 */
import { ApiError, ApiErrorCode } from '../errors.ts';

/**
 * Environment variables known to carry a secret in Coffer or Vault deployments. The Vault
 * names are here because operators migrating from Vault keep them in their shells and unit
 * files; the CLI reads COFFER_TOKEN (Vault parity), never the server.
 *
 * NB: keep this list to names whose value is a secret; a name that only points at a file
 * (COFFER_CACERT, VAULT_CACERT) is harmless and must not stop the server.
 */
export const secretEnvironmentVariables = [
  // Coffer: client token, root token, unseal and recovery shares, HSM PIN, AppRole secret id.
  'COFFER_TOKEN',
  'COFFER_ROOT_TOKEN',
  'COFFER_UNSEAL_KEY',
  'COFFER_UNSEAL_KEYS',
  'COFFER_RECOVERY_KEY',
  'COFFER_PKCS11_PIN',
  'COFFER_HSM_PIN',
  'COFFER_SECRET_ID',
  'COFFER_WRAPPING_TOKEN',
  // Vault: the same secrets under Vault's names, plus its HSM and cloud seal credentials.
  'VAULT_TOKEN',
  'VAULT_ROOT_TOKEN',
  'VAULT_UNSEAL_KEY',
  'VAULT_HSM_PIN',
  'VAULT_SECRET_ID',
  'VAULT_WRAPPING_TOKEN',
  'VAULT_AWSKMS_SEAL_KEY_ID',
  'VAULT_TRANSIT_SEAL_TOKEN',
  'BAO_TOKEN',
] as const;

/** One of {@link secretEnvironmentVariables}. */
export type SecretEnvironmentVariable = (typeof secretEnvironmentVariables)[number];

/** The secret-bearing variables set in `env` (set means defined, even when empty), in list order. */
export function findSecretEnvironmentVariables(
  env: NodeJS.ProcessEnv,
): readonly SecretEnvironmentVariable[] {
  return secretEnvironmentVariables.filter((name) => Object.hasOwn(env, name));
}

/**
 * Throws COFFER_API_SECRET_IN_ENVIRONMENT naming every secret-bearing variable set in `env`.
 *
 * @throws ApiError COFFER_API_SECRET_IN_ENVIRONMENT
 */
export function refuseSecretEnvironment(env: NodeJS.ProcessEnv): void {
  const found = findSecretEnvironmentVariables(env);
  if (found.length === 0) {
    return;
  }
  const names = found.map((name) => `"${name}"`).join(', ');
  throw new ApiError(
    ApiErrorCode.secretInEnvironment,
    `Cannot start the server while the secret-bearing environment variable ${names} is set: ` +
      'unset it (the server reads secrets only from files named in its config), or use --dev',
  );
}
