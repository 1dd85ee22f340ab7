// Goal: the second half of the CI sweep of simulator seeds 0–499 (see sim_ci.test.ts): seeds
// 250–499, each with at least 2,000 client operations, keep every checked property.
// Method: one runSeed per test (see sim_ci_seeds.ts), in a file of its own so that Vitest can
// run it in a second worker.
import { describe } from 'vitest';
import { defineSeedTests } from './sim_ci_seeds.ts';

describe('simulator CI sweep, seeds 250-499', () => {
  defineSeedTests({ first: 250, count: 250 });
});
