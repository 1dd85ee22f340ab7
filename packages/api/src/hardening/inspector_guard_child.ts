/**
 * Test child for inspector_signal_guard.test.ts: installs the SIGUSR1 guard when its first
 * argument is "guard", prints JSON lines, answers "report" on stdin with the inspector's URL,
 * and exits 0 when stdin ends.
 */
import inspector from 'node:inspector';

import { installInspectorSignalGuard } from './inspector_signal_guard.ts';

function print(line: Readonly<Record<string, unknown>>): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

if (process.argv[2] === 'guard') {
  installInspectorSignalGuard({
    warn: (event, fields) => {
      print({ event, ...fields });
    },
  });
}
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  if (chunk.includes('report')) {
    print({ event: 'report', inspectorUrl: inspector.url() ?? null });
  }
});
process.stdin.on('end', () => {
  process.exit(0);
});
print({ event: 'ready', pid: process.pid });
