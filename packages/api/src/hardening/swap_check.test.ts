/**
 * Goal: warnIfSwapOn warns with the swap areas and advice when /proc/swaps lists any, stays
 * quiet when it lists none, and never throws when /proc/swaps cannot be read.
 * Method: injected /proc/swaps text and a recording log; the real /proc/swaps is only parsed.
 */
import { describe, expect, it } from 'vitest';

import { activeSwapAreas, readProcSwaps, warnIfSwapOn } from './swap_check.ts';

const header = 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority';

function recordingLog(): {
  entries: { level: string; event: string; fields: unknown }[];
  info: (event: string, fields?: object) => void;
  warn: (event: string, fields?: object) => void;
} {
  const entries: { level: string; event: string; fields: unknown }[] = [];
  return {
    entries,
    info: (event, fields) => entries.push({ level: 'info', event, fields }),
    warn: (event, fields) => entries.push({ level: 'warn', event, fields }),
  };
}

describe('warnIfSwapOn', () => {
  it('warnIfSwapOn warns with each active swap area', () => {
    const log = recordingLog();
    const text = `${header}\n/dev/sda2  partition\t8388604\t0\t-2\n/swapfile  file\t1048572\t0\t-3\n`;
    warnIfSwapOn(log, () => text);
    expect(log.entries).toEqual([
      {
        level: 'warn',
        event: 'swap_enabled',
        fields: expect.objectContaining({ areas: ['/dev/sda2', '/swapfile'] }) as unknown,
      },
    ]);
    expect(JSON.stringify(log.entries)).toContain('encrypted swap');
  });

  it('warnIfSwapOn stays quiet when no swap is active', () => {
    const log = recordingLog();
    warnIfSwapOn(log, () => `${header}\n`);
    expect(log.entries).toEqual([]);
  });

  it('warnIfSwapOn logs swap_unknown and does not throw when /proc/swaps is unreadable', () => {
    const log = recordingLog();
    warnIfSwapOn(log, () => {
      throw Object.assign(new Error('no /proc'), { code: 'ENOENT' });
    });
    expect(log.entries).toEqual([
      { level: 'info', event: 'swap_unknown', fields: { code: 'ENOENT' } },
    ]);
  });

  it('activeSwapAreas parses the real /proc/swaps', () => {
    expect(Array.isArray(activeSwapAreas(readProcSwaps()))).toBe(true);
  });
});
