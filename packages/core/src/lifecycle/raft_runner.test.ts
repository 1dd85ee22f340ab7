/**
 * Goal: Raft's own events reach the server log as `raft` events with plain fields, and its
 * debug chatter does not.
 */
import { describe, expect, it } from 'vitest';

import { raftLoggerOf } from './raft_runner.ts';

describe('raftLoggerOf', () => {
  it('raftLoggerOf passes info and warn as raft events with plain fields, and drops debug', () => {
    const lines: { level: string; event: string; fields: unknown }[] = [];
    const logger = raftLoggerOf({
      info: (event, fields) => lines.push({ level: 'info', event, fields }),
      warn: (event, fields) => lines.push({ level: 'warn', event, fields }),
    });
    logger.debug('became follower', { id: 2, term: 3 });
    logger.info('lost the connection to the leader', { id: 2, leader: 1 });
    logger.warn('dropped invalid message', { id: 2, code: 'X', entry: new Uint8Array([1]) });
    expect(lines).toEqual([
      {
        level: 'info',
        event: 'raft',
        fields: { message: 'lost the connection to the leader', id: 2, leader: 1 },
      },
      {
        level: 'warn',
        event: 'raft',
        fields: { message: 'dropped invalid message', id: 2, code: 'X' },
      },
    ]);
  });
});
