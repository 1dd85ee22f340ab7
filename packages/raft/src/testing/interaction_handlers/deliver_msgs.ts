/**
 * `deliver-msgs [type=T] [from=ID] [drop=(ids)] [ID ...]`: steps the queued messages addressed
 * to each ID into it, in sending order; `drop` discards the messages addressed to those nodes
 * instead. `type` (a MessageType such as append) and `from` restrict both to some messages.
 */
import {
  findArg,
  findSingleArg,
  parseCount,
  positionalCounts,
  type TestCase,
} from '../datadriven.ts';
import type { InteractionEnv } from '../interaction_env.ts';

/** Handles `deliver-msgs`. */
export function handleDeliverMsgs(env: InteractionEnv, testCase: TestCase): void {
  const type = findSingleArg(testCase, 'type');
  const from = findSingleArg(testCase, 'from');
  const filter = {
    ...(type === undefined ? {} : { type }),
    ...(from === undefined ? {} : { from: parseCount(from, 'from') }),
  };
  const drop = (findArg(testCase, 'drop') ?? []).map((v) => parseCount(v, 'drop'));
  const deliver = positionalCounts(testCase);
  if (drop.length === 0 && deliver.length === 0) {
    throw new Error('Name the recipients, e.g. "deliver-msgs 2" or "deliver-msgs drop=(2)"');
  }
  for (const id of drop) {
    env.deliverMsgs(id, { drop: true, ...filter });
  }
  for (const id of deliver) {
    env.write(`> ${id} receiving messages`);
    env.withIndent(() => env.deliverMsgs(id, { drop: false, ...filter }));
  }
}
