/**
 * Paths the core keeps for itself in the replicated state, beside the secrets. They are stored
 * in clear like every path; their values are ciphertext (the keyring is sealed under the root
 * key, which never reaches storage).
 */

/** The sealed keyring in force: every keyring change replaces it by check-and-set. */
export const keyringPath = 'core/keyring';
