// Goal: one- and two-voter clusters keep every property too. There, commits hang on the
// leader's own copy, which it counts only once persisted (Raft thesis §10.2.1); the swarm draws
// 3 or 5 voters, so this sweep forces the small sizes over seeds 0–19.
// Method: runSeed with voterCount 1 and 2; everything else comes from the seed.
import { describe } from 'vitest';
import { defineSeedTests } from './sim_ci_seeds.ts';

describe('simulator CI sweep, one and two voters, seeds 0-19', () => {
  defineSeedTests({ first: 0, count: 20, voterCount: 1 });
  defineSeedTests({ first: 0, count: 20, voterCount: 2 });
});
