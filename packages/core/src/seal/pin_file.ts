/**
 * The HSM user PIN comes from a file, never from the environment (an environment is readable
 * in /proc/<pid>/environ for the process's life and is inherited by children). The file must be
 * a regular file owned by this process's user, with mode 0600 or 0400; anything else is refused
 * before a byte is read. Mode and owner are checked on the opened descriptor, so the file cannot
 * be swapped between the check and the read. A symbolic link is followed (Kubernetes mounts
 * secrets that way) and its target is what is checked.
 */
import { open } from 'node:fs/promises';

import { SecretKey } from '../barrier/secret_key.ts';
import { CoreError, CoreErrorCode } from '../errors.ts';

/** PINs are short; anything longer than this is not a PIN file. */
const pinSizeBytesMax = 256;
const modesAllowed = [0o600, 0o400];

function insecure(path: string, what: string): CoreError {
  return new CoreError(
    CoreErrorCode.sealPinFileInsecure,
    `Refusing the PIN file "${path}": ${what}; make it a regular file owned by this user with ` +
      'mode 0600 (chmod 600)',
  );
}

/** Strips one trailing line break (files written by editors and `echo` end with one). */
function pinLength(bytes: Buffer): number {
  let end = bytes.byteLength;
  if (end > 0 && bytes[end - 1] === 0x0a) {
    end -= 1;
  }
  if (end > 0 && bytes[end - 1] === 0x0d) {
    end -= 1;
  }
  return end;
}

/**
 * Reads the PIN at `path`. Throws COFFER_CORE_SEAL_PIN_FILE_INSECURE for a wrong type, mode,
 * owner, size or an empty PIN, and COFFER_CORE_SEAL_CONFIG_INVALID when it cannot be opened.
 * The caller owns the returned key and zeroes it after C_Login.
 */
export async function readPinFile(path: string): Promise<SecretKey> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new CoreError(
      CoreErrorCode.sealConfigInvalid,
      `Cannot open the PIN file "${path}"; check the seal's pinFile setting`,
      { cause: error },
    );
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw insecure(path, 'it is not a regular file');
    }
    const mode = stat.mode & 0o777;
    if (!modesAllowed.includes(mode)) {
      throw insecure(path, `its mode is 0${mode.toString(8)}`);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && stat.uid !== uid) {
      throw insecure(path, `it is owned by uid ${stat.uid}, not ${uid}`);
    }
    if (stat.size > pinSizeBytesMax) {
      throw insecure(path, `it is ${stat.size} bytes, more than ${pinSizeBytesMax}`);
    }
    const bytes = Buffer.alloc(pinSizeBytesMax + 1);
    const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, 0);
    if (bytesRead > pinSizeBytesMax) {
      bytes.fill(0);
      throw insecure(path, `it grew past ${pinSizeBytesMax} bytes while being read`);
    }
    const length = pinLength(bytes.subarray(0, bytesRead));
    const pin = length === 0 ? undefined : SecretKey.fromBytes(bytes.subarray(0, length));
    bytes.fill(0);
    if (pin === undefined) {
      throw insecure(path, 'it holds no PIN');
    }
    return pin;
  } finally {
    await handle.close();
  }
}
