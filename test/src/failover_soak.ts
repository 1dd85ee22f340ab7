/**
 * The failover soak, run by hand and bounded by its arguments (failover_run.ts does the work;
 * failover_e2e.test.ts runs ten kills in CI):
 *
 *   npm run soak:failover -- --kills 10 --interval-ms 3000 --writers 8
 */
import { parseArgs } from 'node:util';

import { cofferCommand } from './coffer_processes.ts';
import { describeFailover, runFailover } from './failover_run.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '10' },
    'interval-ms': { type: 'string', default: '3000' },
    writers: { type: 'string', default: '8' },
  },
});
const kills = Number(values.kills);
const intervalMs = Number(values['interval-ms']);
const writers = Number(values.writers);
const report = await runFailover({
  command: cofferCommand,
  kills,
  intervalMs,
  writers,
  log: (line) => {
    console.log(line);
  },
});
console.log('');
console.log(
  `kills: ${String(kills)}, writers: ${String(writers)}, interval: ${String(intervalMs)} ms`,
);
for (const line of describeFailover(report)) {
  console.log(line);
}
