/**
 * `log-level LEVEL`: which core log events the output shows: debug, info or warn; `none`
 * silences the output altogether (for setup steps), as in etcd's scripts.
 */
import { positionals, type TestCase } from '../datadriven.ts';
import { LogLevel, type InteractionEnv } from '../interaction_env.ts';

/** Handles `log-level`. */
export function handleLogLevel(env: InteractionEnv, testCase: TestCase): void {
  const [level] = positionals(testCase);
  const known = Object.values(LogLevel).find((l) => l === level);
  if (known === undefined) {
    throw new Error(`Pick one of ${Object.values(LogLevel).join(', ')}, got "${String(level)}"`);
  }
  env.logLevel = known;
}
