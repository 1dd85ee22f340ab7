/**
 * Goal: refuseSecretEnvironment refuses each known secret-bearing variable, names all that are
 * set and never their values, and leaves harmless variables (file paths, addresses) alone.
 * Method: literal environment objects; no process is started.
 */
import { describe, expect, it } from 'vitest';

import { ApiErrorCode } from '../errors.ts';
import {
  findSecretEnvironmentVariables,
  refuseSecretEnvironment,
  secretEnvironmentVariables,
} from './secret_environment.ts';

function caught(run: () => void): { code?: unknown; message?: unknown } {
  try {
    run();
  } catch (error) {
    return error as { code?: unknown; message?: unknown };
  }
  return {};
}

describe('refuseSecretEnvironment', () => {
  it.each(secretEnvironmentVariables)('refuseSecretEnvironment refuses %s', (name) => {
    const error = caught(() => {
      refuseSecretEnvironment({ [name]: 's3cr3t-value' });
    });
    expect(error.code).toBe(ApiErrorCode.secretInEnvironment);
    expect(error.message).toContain(`"${name}"`);
    expect(error.message).not.toContain('s3cr3t-value');
  });

  it('refuseSecretEnvironment names every variable that is set, even an empty one', () => {
    const env = { VAULT_TOKEN: '', COFFER_PKCS11_PIN: '1234', HOME: '/root' };
    expect(findSecretEnvironmentVariables(env)).toEqual(['COFFER_PKCS11_PIN', 'VAULT_TOKEN']);
    const error = caught(() => {
      refuseSecretEnvironment(env);
    });
    expect(error.message).toContain('"COFFER_PKCS11_PIN", "VAULT_TOKEN"');
    expect(error.message).not.toContain('1234');
  });

  it('refuseSecretEnvironment allows variables that only point at files or addresses', () => {
    expect(() => {
      refuseSecretEnvironment({
        COFFER_ADDR: 'https://127.0.0.1:8200',
        COFFER_CACERT: '/etc/coffer/ca.pem',
        VAULT_CACERT: '/etc/vault/ca.pem',
        PATH: '/usr/bin',
      });
    }).not.toThrow();
  });
});
