/**
 * The one file that imports pkcs11js (STYLE.md 4.2: a CommonJS native addon, loaded with import()
 * only when an HSM seal is configured, so a node without an HSM never loads it).
 *
 * It also keeps one library instance per path for the whole process. A PKCS#11 library has
 * process-wide state: C_Initialize and C_Finalize affect every user of it, so two instances of
 * one library would finalize each other's sessions.
 */
import type * as Pkcs11Js from 'pkcs11js';

/** The pkcs11js module: the PKCS11 class and the CK* constants. */
export type Pkcs11Module = typeof Pkcs11Js;
/** One loaded PKCS#11 library. */
export type Pkcs11 = Pkcs11Js.PKCS11;
/** A slot, session or object handle (a CK_ULONG in a Buffer). */
export type Pkcs11Handle = Buffer;
/** An attribute template. */
export type Pkcs11Template = Pkcs11Js.Template;
/** A mechanism with its parameters. */
export type Pkcs11MechanismSpec = Pkcs11Js.Mechanism;
/** The parameter block of CKM_AES_GCM (CK_PARAMS_AES_GCM_v240: CK_GCM_PARAMS of PKCS#11 2.40). */
export type Pkcs11GcmParams = Pkcs11Js.GcmParams;
/** The parameter block of CKM_RSA_PKCS_OAEP. */
export type Pkcs11OaepParams = Pkcs11Js.RsaOAEP;

/** A library loaded into this process, and whether this process has initialized it. */
export interface LoadedLibrary {
  readonly module: Pkcs11Module;
  readonly pkcs11: Pkcs11;
  initialized: boolean;
}

let modulePromise: Promise<Pkcs11Module> | undefined;
const libraries = new Map<string, LoadedLibrary>();

/** Imports pkcs11js once. Rejects when its native part is missing (install without scripts). */
export function loadPkcs11Module(): Promise<Pkcs11Module> {
  modulePromise ??= import('pkcs11js').then(
    (imported) => imported.default,
    (error: unknown) => {
      // Forget the failure, so a later connect tries the import again.
      modulePromise = undefined;
      throw error;
    },
  );
  return modulePromise;
}

/** Loads the library at `path` once per process; rejects when dlopen fails. */
export async function openLibrary(path: string): Promise<LoadedLibrary> {
  const known = libraries.get(path);
  if (known !== undefined) {
    return known;
  }
  const module = await loadPkcs11Module();
  const pkcs11 = new module.PKCS11();
  pkcs11.load(path);
  const loaded: LoadedLibrary = { module, pkcs11, initialized: false };
  libraries.set(path, loaded);
  return loaded;
}

/**
 * The CKR_* name of a PKCS#11 error ("CKR_PIN_INCORRECT"), or undefined for anything else.
 * pkcs11js puts the name in the message of its Pkcs11Error.
 */
export function ckrName(error: unknown): string | undefined {
  if (error instanceof Error && /^CKR_[A-Z0-9_]+$/.test(error.message)) {
    return error.message;
  }
  return undefined;
}

/** C_Initialize, accepting a library that this process already initialized elsewhere. */
export function initializeLibrary(library: LoadedLibrary): void {
  if (library.initialized) {
    return;
  }
  try {
    library.pkcs11.C_Initialize();
  } catch (error) {
    if (ckrName(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      throw error;
    }
  }
  library.initialized = true;
}

/**
 * C_Finalize, ignoring failures: it closes every session of this process on that library. A
 * later C_Initialize rescans slots and tokens, which some libraries (SoftHSM) only do then.
 */
export function finalizeLibrary(library: LoadedLibrary): void {
  if (!library.initialized) {
    return;
  }
  library.initialized = false;
  try {
    library.pkcs11.C_Finalize();
  } catch {
    // Already finalized or the device is gone: either way nothing is left to release.
  }
}
