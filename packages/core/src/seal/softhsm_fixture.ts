/**
 * Test harness: a real SoftHSM2 token per test file, in its own temporary directory.
 *
 * `ensureSoftHsm()` installs Debian's softhsm2 when it is missing (the tests run as root, in CI
 * too; skipped when /usr/lib/softhsm/libsofthsm2.so and softhsm2-util exist, so it is
 * idempotent). `createSoftHsmToken()` writes a softhsm2.conf pointing at a fresh token
 * directory, initializes a token with random SO and user PINs and writes the user PIN to a file
 * with mode 0600.
 *
 * NB: SoftHSM reads SOFTHSM2_CONF in C_Initialize. Either run the code under test in a child
 * process with `env()` (pkcs11_child.test.ts), or call `useInThisProcess()` before the first
 * C_Initialize of the test file (Vitest runs each file in its own process, vitest.config.ts).
 * NB: not part of the package's public surface; test files import it directly.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's softhsm2 puts its PKCS#11 library. */
export const softHsmLibraryPath = '/usr/lib/softhsm/libsofthsm2.so';
const softHsmUtil = '/usr/bin/softhsm2-util';
const installTimeoutMs = 300_000;

/** Serializes installs across the test files Vitest runs in parallel (apt holds one lock). */
const installLock = join(tmpdir(), 'coffer-softhsm-install.lock');

const installScript = `set -e
if [ -e ${softHsmLibraryPath} ] && [ -x ${softHsmUtil} ]; then exit 0; fi
get_softhsm() { apt-get install -y -qq --no-install-recommends softhsm2; }
get_softhsm || { apt-get update -qq && get_softhsm; }
`;

/**
 * Installs softhsm2 with apt-get unless it is already there. Idempotent, and safe to call from
 * several processes at once: the check and the install run under flock(1).
 */
export function ensureSoftHsm(): void {
  if (existsSync(softHsmLibraryPath) && existsSync(softHsmUtil)) {
    return;
  }
  execFileSync('flock', [installLock, 'sh', '-c', installScript], {
    stdio: 'ignore',
    timeout: installTimeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (!existsSync(softHsmLibraryPath)) {
    throw new Error(`softhsm2 installed, but ${softHsmLibraryPath} is missing`);
  }
}

/** One initialized token in its own directory. Remove it with `cleanup()`. */
export interface SoftHsmToken {
  /** The temporary directory holding everything below. */
  readonly dir: string;
  readonly confPath: string;
  /** SoftHSM's token directory (directories.tokendir). */
  readonly tokensDir: string;
  readonly label: string;
  /** The user PIN file (mode 0600). */
  readonly pinFile: string;
  /** The user PIN itself, for tests that log in directly. */
  readonly userPin: string;
  /** The environment a child process needs to see this token. */
  env(): NodeJS.ProcessEnv;
  /** Points this process's SoftHSM at the token; call before the first C_Initialize. */
  useInThisProcess(): void;
  /** Moves the token's own directory out of the token directory (the token disappears). */
  moveAway(): void;
  /** Moves it back. */
  moveBack(): void;
  /** Deletes the token's files for good. */
  destroy(): void;
  /** Deletes the whole temporary directory. */
  cleanup(): void;
}

function randomPin(): string {
  return randomBytes(12).toString('hex');
}

/** Creates and initializes a token labelled `label` in a fresh temporary directory. */
export function createSoftHsmToken(label = 'coffer-test'): SoftHsmToken {
  ensureSoftHsm();
  const dir = mkdtempSync(join(tmpdir(), 'coffer-softhsm-'));
  const tokensDir = join(dir, 'tokens');
  const awayDir = join(dir, 'away');
  mkdirSync(tokensDir, { mode: 0o700 });
  const confPath = join(dir, 'softhsm2.conf');
  writeFileSync(
    confPath,
    `directories.tokendir = ${tokensDir}\nobjectstore.backend = file\nlog.level = ERROR\n` +
      'slots.removable = false\n',
  );
  const userPin = randomPin();
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, SOFTHSM2_CONF: confPath });
  // NB: the PINs pass on softhsm2-util's command line; they are random and test-only.
  execFileSync(
    softHsmUtil,
    ['--init-token', '--free', '--label', label, '--so-pin', randomPin(), '--pin', userPin],
    { env: env(), stdio: 'ignore' },
  );
  const pinFile = join(dir, 'user.pin');
  writeFileSync(pinFile, `${userPin}\n`, { mode: 0o600 });
  chmodSync(pinFile, 0o600);
  const tokenName = readdirSync(tokensDir)[0] ?? '';
  return {
    dir,
    confPath,
    tokensDir,
    label,
    pinFile,
    userPin,
    env,
    useInThisProcess: () => {
      process.env['SOFTHSM2_CONF'] = confPath;
    },
    moveAway: () => {
      renameSync(join(tokensDir, tokenName), awayDir);
    },
    moveBack: () => {
      renameSync(awayDir, join(tokensDir, tokenName));
    },
    destroy: () => {
      rmSync(join(tokensDir, tokenName), { recursive: true, force: true });
      rmSync(awayDir, { recursive: true, force: true });
    },
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
