// Goal: CI runs simulator seeds 0–499, each with at least 2,000 client operations, and every
// run keeps election safety, log matching, leader completeness, state-machine safety, liveness
// after healing, and linearizability. This file takes seeds 0–249; sim_ci_upper.test.ts takes
// 250–499, so that two Vitest workers can share the sweep.
// Method: one runSeed per test (see sim_ci_seeds.ts); a failure prints the seed, the first
// violated property and the trace of the events before it.
import { describe } from 'vitest';
import { defineSeedTests } from './sim_ci_seeds.ts';

describe('simulator CI sweep, seeds 0-249', () => {
  defineSeedTests({ first: 0, count: 250 });
});
