/**
 * Test support of @coffer/core for other workspaces' tests (the "./testing" export, STYLE.md
 * 1.3): a SoftHSM2 token of its own per test, installed with apt-get when missing.
 */
export { createSoftHsmToken, ensureSoftHsm, softHsmLibraryPath } from './seal/softhsm_fixture.ts';
export type { SoftHsmToken } from './seal/softhsm_fixture.ts';
