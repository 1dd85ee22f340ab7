/** `campaign ID`: the node starts an election now (PreVote first when it is on). */
import { positionalCounts, type TestCase } from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `campaign`. */
export function handleCampaign(env: InteractionEnv, testCase: TestCase): void {
  for (const id of positionalCounts(testCase)) {
    env.upNode(id).raw.campaign();
  }
}
