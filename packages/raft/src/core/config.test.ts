// Goal: validateConfig and makeConfig (STYLE.md §3.8): every limit is checked before a node is
// built, and a bad field is refused with COFFER_RAFT_INVALID_CONFIG naming that field. Also the
// read-lease arithmetic and the start-up checks the node makes of its stored state. Method:
// table-driven bad values per field against a valid base input.
import { describe, expect, it } from 'vitest';
import {
  defaultConfig,
  leaseTicks,
  makeConfig,
  ReadOnlyOption,
  type RaftConfigInput,
} from './config.ts';
import { RaftError, RaftErrorCode } from './errors.ts';
import { MemoryStorage } from './memory_storage.ts';
import { RawNode } from './raw_node.ts';
import { asIndex, asNodeId, asTerm, EntryType, noNode } from './types.ts';

function baseInput(): RaftConfigInput {
  return {
    id: asNodeId(1),
    storage: new MemoryStorage({ voters: [asNodeId(1)], learners: [] }),
    randomInt: () => 0,
  };
}

/** The RaftError thrown by fn, or a failure when it does not throw one. */
function raftErrorOf(fn: () => unknown): RaftError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RaftError) {
      return err;
    }
    throw err;
  }
  throw new Error('expected a RaftError, nothing was thrown');
}

function expectInvalidField(overrides: Record<string, unknown>, field: string): void {
  const input = { ...baseInput(), ...overrides } as RaftConfigInput;
  const err = raftErrorOf(() => makeConfig(input));
  expect(err.code).toBe(RaftErrorCode.invalidConfig);
  expect(err.message).toContain(`"${field}"`);
}

const positiveIntegerFields = [
  'id',
  'electionTimeoutTicks',
  'heartbeatIntervalTicks',
  'messageSizeBytesMax',
  'messageEntriesMax',
  'inflightMsgsMax',
  'inflightSizeBytesMax',
  'uncommittedSizeBytesMax',
  'committedSizeBytesPerReadyMax',
  'snapshotChunkSizeBytes',
  'logEntriesMax',
  'logSizeBytesMax',
] as const;

const notPositiveIntegers: readonly unknown[] = [
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  '5',
  undefined,
  null,
];

describe('makeConfig', () => {
  it('makeConfig fills every default for a minimal input', () => {
    const config = makeConfig(baseInput());
    for (const [field, value] of Object.entries(defaultConfig)) {
      expect(config[field as keyof typeof config], field).toBe(value);
    }
  });

  it('makeConfig keeps an explicit value over the default', () => {
    const config = makeConfig({ ...baseInput(), electionTimeoutTicks: 30, preVote: false });
    expect(config.electionTimeoutTicks).toBe(30);
    expect(config.preVote).toBe(false);
  });

  it('makeConfig defaults to PreVote, CheckQuorum and safe reads', () => {
    // Reference: thesis §9.6 and §6.4 — safe reads are the default, leases opt-in.
    const config = makeConfig(baseInput());
    expect(config.preVote).toBe(true);
    expect(config.checkQuorum).toBe(true);
    expect(config.readOnlyOption).toBe(ReadOnlyOption.safe);
  });
});

describe('validateConfig', () => {
  for (const field of positiveIntegerFields) {
    it(`validateConfig rejects a non-positive-integer ${field} naming the field`, () => {
      for (const value of notPositiveIntegers) {
        const overrides: Record<string, unknown> = { [field]: value };
        if (field === 'heartbeatIntervalTicks') {
          overrides['electionTimeoutTicks'] = 2 ** 40;
        }
        expectInvalidField(overrides, field);
      }
    });
  }

  it('validateConfig rejects an election timeout equal to the heartbeat interval', () => {
    expectInvalidField(
      { electionTimeoutTicks: 5, heartbeatIntervalTicks: 5 },
      'electionTimeoutTicks',
    );
  });

  it('validateConfig rejects an election timeout below the heartbeat interval', () => {
    expectInvalidField(
      { electionTimeoutTicks: 3, heartbeatIntervalTicks: 5 },
      'electionTimeoutTicks',
    );
  });

  it('validateConfig accepts an election timeout one tick above the heartbeat interval', () => {
    expect(() =>
      makeConfig({ ...baseInput(), electionTimeoutTicks: 6, heartbeatIntervalTicks: 5 }),
    ).not.toThrow();
  });

  it('validateConfig rejects lease-based reads without checkQuorum', () => {
    // Reference: thesis §6.4.1 — a lease needs the leader to step down when it loses a quorum.
    expectInvalidField(
      { readOnlyOption: ReadOnlyOption.leaseBased, checkQuorum: false },
      'readOnlyOption',
    );
  });

  it('validateConfig accepts lease-based reads with checkQuorum', () => {
    expect(() =>
      makeConfig({ ...baseInput(), readOnlyOption: ReadOnlyOption.leaseBased, checkQuorum: true }),
    ).not.toThrow();
  });

  it('validateConfig rejects an unknown readOnlyOption', () => {
    expectInvalidField({ readOnlyOption: 'eventual' }, 'readOnlyOption');
  });

  it('validateConfig rejects a non-boolean preVote or checkQuorum', () => {
    expectInvalidField({ preVote: 'yes' }, 'preVote');
    expectInvalidField({ checkQuorum: 1 }, 'checkQuorum');
  });

  it('validateConfig rejects a clockDriftMaxPercent outside [0, 100)', () => {
    for (const value of [-1, 100, 150, 2.5, Number.NaN, '10']) {
      expectInvalidField({ clockDriftMaxPercent: value }, 'clockDriftMaxPercent');
    }
  });

  it('validateConfig accepts clockDriftMaxPercent at both ends of [0, 100)', () => {
    expect(() => makeConfig({ ...baseInput(), clockDriftMaxPercent: 0 })).not.toThrow();
    expect(() => makeConfig({ ...baseInput(), clockDriftMaxPercent: 99 })).not.toThrow();
  });

  it('validateConfig rejects a negative or fractional promotionLagEntriesMax', () => {
    for (const value of [-1, 0.5, Number.NaN]) {
      expectInvalidField({ promotionLagEntriesMax: value }, 'promotionLagEntriesMax');
    }
    expect(() => makeConfig({ ...baseInput(), promotionLagEntriesMax: 0 })).not.toThrow();
  });

  it('validateConfig rejects a negative or fractional appliedIndex', () => {
    for (const value of [-1, 0.5, Number.NaN]) {
      expectInvalidField({ appliedIndex: value }, 'appliedIndex');
    }
  });

  it('validateConfig rejects a randomInt that is not a function', () => {
    expectInvalidField({ randomInt: 3 }, 'randomInt');
    expectInvalidField({ randomInt: undefined }, 'randomInt');
  });

  it('validateConfig rejects a missing storage or logger', () => {
    expectInvalidField({ storage: undefined }, 'storage');
    expectInvalidField({ logger: undefined }, 'logger');
  });
});

describe('leaseTicks', () => {
  it('leaseTicks shrinks the election timeout by the drift bound', () => {
    // Reference: thesis §6.4.1 — the lease is the election timeout divided by the clock drift
    // bound, so it ends before any follower could time out and elect another leader.
    const at = (electionTimeoutTicks: number, clockDriftMaxPercent: number): number =>
      leaseTicks(makeConfig({ ...baseInput(), electionTimeoutTicks, clockDriftMaxPercent }));
    expect(at(10, 10)).toBe(8);
    expect(at(10, 0)).toBe(10);
    expect(at(20, 5)).toBe(18);
    expect(at(10, 99)).toBe(0);
  });

  it('leaseTicks on the fastest clock ends before the election timeout on the slowest', () => {
    for (let et = 2; et <= 40; et++) {
      for (let p = 1; p < 100; p += 7) {
        const lease = leaseTicks(
          makeConfig({ ...baseInput(), electionTimeoutTicks: et, clockDriftMaxPercent: p }),
        );
        expect(lease * (100 + p)).toBeLessThanOrEqual(et * (100 - p));
        expect(lease).toBeLessThan(et);
      }
    }
  });
});

describe('RawNode constructor', () => {
  it('RawNode constructor refuses an invalid config with COFFER_RAFT_INVALID_CONFIG', () => {
    const err = raftErrorOf(() => new RawNode({ ...baseInput(), electionTimeoutTicks: 0 }));
    expect(err.code).toBe(RaftErrorCode.invalidConfig);
  });

  it('RawNode constructor refuses an appliedIndex past the stored commit', () => {
    const input = baseInput();
    const err = raftErrorOf(() => new RawNode({ ...input, appliedIndex: asIndex(3) }));
    expect(err.code).toBe(RaftErrorCode.invalidConfig);
    expect(err.message).toContain('"appliedIndex"');
  });

  it('RawNode constructor refuses a stored commit past the last stored entry with COFFER_RAFT_LOG_CORRUPT', () => {
    const storage = new MemoryStorage({ voters: [asNodeId(1)], learners: [] });
    storage.append([
      { index: asIndex(1), term: asTerm(1), type: EntryType.normal, data: new Uint8Array(0) },
    ]);
    storage.setHardState({ term: asTerm(1), vote: noNode, commit: asIndex(5) });
    const err = raftErrorOf(() => new RawNode({ ...baseInput(), storage }));
    expect(err.code).toBe(RaftErrorCode.logCorrupt);
  });
});
