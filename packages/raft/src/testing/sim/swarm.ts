/**
 * The parameters each seed draws before its run ("swarm testing", Groce et al. 2012): cluster
 * size, Raft timings and limits, PreVote, CheckQuorum and lease reads, disk and network speed,
 * network fault rates, the faults the nemesis uses and how often, and the client mix.
 *
 * A seed first draws a profile that concentrates its faults where some class of bugs shows:
 * - balanced: a bit of everything;
 * - elections: short timeouts, 5 voters, PreVote often off, late duplicates and stalls, the
 *   leader isolated, paused and crashed often (split votes, stale votes, Figure 8);
 * - durability: a slow disk on a fast network, crashes in the middle of fsyncs, power losses;
 * - reads: few keys, CheckQuorum often off, lease reads often on, the leader isolated, paused
 *   and transferred often (stale reads).
 * Every profile still mixes in every fault now and then.
 */
import type { SeededRandom } from '../seeded_random.ts';
import type { NodeSettings } from './sim_node.ts';
import type { NetworkParams } from './sim_network.ts';
import type { WorkloadParams } from './workload.ts';

/** Where a seed concentrates its faults. */
export const SwarmProfile = {
  balanced: 'balanced',
  elections: 'elections',
  durability: 'durability',
  reads: 'reads',
} as const;
/** Union of {@link SwarmProfile} values. */
export type SwarmProfile = (typeof SwarmProfile)[keyof typeof SwarmProfile];

/** Which faults the nemesis uses in a seed, with their weights (0: never). */
export interface FaultWeights {
  partition: number;
  oneWay: number;
  isolateLeader: number;
  clog: number;
  heal: number;
  crash: number;
  /** A power loss: every node crashes at once. */
  crashAll: number;
  pause: number;
  membership: number;
  transfer: number;
  snapshot: number;
}

/** A kind of fault. */
export type FaultKind = keyof FaultWeights;

/** Everything a seed draws before the run starts. */
export interface SwarmParams {
  readonly profile: SwarmProfile;
  readonly voterCount: number;
  readonly tickIntervalUs: number;
  readonly driftPercent: number;
  readonly node: Omit<NodeSettings, 'raftFactory' | 'sendBeforeSync' | 'dedup'>;
  readonly network: NetworkParams;
  readonly faults: FaultWeights;
  readonly nemesisIntervalMaxUs: number;
  /** Probability that a new leader crashes or is cut off soon after its election. */
  readonly leaderFlapRate: number;
  /** How soon, at most. */
  readonly leaderFlapDelayMaxUs: number;
  readonly workload: WorkloadParams;
}

function drawRaft(random: SeededRandom, profile: SwarmProfile): NodeSettings['raft'] {
  const electionTimeoutTicks = profile === 'elections' ? 5 + random.int(4) : 5 + random.int(16);
  const checkQuorum = random.chance(
    profile === 'balanced' ? 0.8 : profile === 'durability' ? 0.5 : 0.3,
  );
  const lease = checkQuorum && random.chance(profile === 'reads' ? 0.5 : 0.3);
  const smallMessages = profile === 'elections' || random.chance(0.5);
  return {
    electionTimeoutTicks,
    heartbeatIntervalTicks: 1 + random.int(Math.min(3, electionTimeoutTicks - 1)),
    preVote: random.chance(profile === 'elections' ? 0.4 : 0.8),
    checkQuorum,
    readOnlyOption: lease ? 'leaseBased' : 'safe',
    clockDriftMaxPercent: 2 + random.int(19),
    messageSizeBytesMax: smallMessages ? 64 + random.int(512) : 1024 * 1024,
    // NB: one small message at a time over a slow disk moves ~40 entries a second, too slow to
    // finish a run in bounded time; small messages come with a deeper pipeline, except in the
    // elections profile (fast disks), where one message at a time opens the Figure 8 window.
    inflightMsgsMax: random.pick(
      profile === 'elections' ? [1, 2, 4] : smallMessages ? [4, 16, 256] : [1, 2, 4, 16, 256],
    ),
    logEntriesMax: random.chance(0.5) ? 20 + random.int(200) : 100_000,
    snapshotChunkSizeBytes: random.pick([64, 256, 1024, 65_536]),
    promotionLagEntriesMax: random.pick([5, 50, 1000]),
    uncommittedSizeBytesMax: random.chance(0.2) ? 2048 : 64 * 1024 * 1024,
    committedSizeBytesPerReadyMax: random.chance(0.2) ? 256 : 64 * 1024 * 1024,
  };
}

function drawNetwork(random: SeededRandom, profile: SwarmProfile): NetworkParams {
  const lan = profile === 'durability' || profile === 'elections' || random.chance(0.4);
  const lateCopies = profile === 'elections' || random.chance(0.5);
  return {
    dropRate: random.chance(0.3) ? 0 : random.float() * 0.3,
    duplicateRate: random.chance(profile === 'elections' ? 0.1 : 0.3) ? 0 : random.float() * 0.5,
    duplicateDelayMaxUs: lateCopies ? random.pick([100_000, 300_000]) : random.pick([0, 10_000]),
    // A fast LAN in some seeds, a slower, jittery network in others.
    delayMinUs: lan ? 20 + random.int(200) : 100 + random.int(2000),
    delayJitterUs: lan ? random.int(500) : random.int(10_000),
    reorderRate: random.chance(0.5) ? 0 : random.float() * 0.02,
    stallRate: lateCopies ? random.float() * 0.1 : 0,
    stallMaxUs: 20_000 + random.int(300_000),
  };
}

function drawFaults(random: SeededRandom, profile: SwarmProfile): FaultWeights {
  const on = (p: number): number => (random.chance(p) ? 1 + random.int(4) : 0);
  const weights: FaultWeights = {
    partition: on(0.6),
    oneWay: on(0.4),
    isolateLeader: on(0.5),
    clog: on(0.4),
    heal: 2,
    crash: on(0.7),
    crashAll: on(0.3),
    pause: on(0.5),
    membership: on(0.5),
    transfer: on(0.6),
    snapshot: on(0.5),
  };
  switch (profile) {
    case 'balanced':
      break;
    case 'elections':
      weights.isolateLeader += 3;
      weights.crash += 3;
      weights.pause += 2;
      weights.partition += 1;
      weights.clog += 3; // a clog releases old votes and acks in a burst, long after
      break;
    case 'durability':
      weights.crash += 3;
      weights.crashAll += 1;
      break;
    case 'reads':
      weights.isolateLeader += 3;
      weights.partition += 2;
      weights.transfer += 3;
      weights.pause += 2;
      break;
  }
  return weights;
}

function drawWorkload(
  random: SeededRandom,
  options: { profile: SwarmProfile; opsTarget: number; requestTimeoutUs: number },
): WorkloadParams {
  const clientCount = 8 + random.int(25);
  const minKeys = Math.ceil(clientCount / 8);
  const keys =
    options.profile === 'reads' ? 1 + random.int(4) : 1 + random.int(random.chance(0.5) ? 8 : 40);
  return {
    clientCount,
    keyCount: Math.max(minKeys, keys),
    readFraction: options.profile === 'reads' ? 0.7 + random.float() * 0.25 : 0.4,
    opsTarget: options.opsTarget,
    requestTimeoutUs: options.requestTimeoutUs,
    thinkTimeMaxUs: random.int(20_000),
    abandonAfterAttempts: random.chance(0.25) ? 5 + random.int(10) : Number.POSITIVE_INFINITY,
    abandonedMax: 20,
    abandonedPerKeyMax: 3,
  };
}

/**
 * Raises the election timeout, if needed, to twice the longest gap a follower can see between
 * heartbeats without any fault: the interval, two fsyncs (a heartbeat waits for the Ready in
 * flight and for its own) and the network delay. A shorter timeout makes a cluster that keeps
 * electing leaders even when nothing fails, and then liveness means nothing.
 */
function saneElectionTimeout(
  raft: NodeSettings['raft'],
  disk: { fsyncMaxUs: number; network: NetworkParams },
): NodeSettings['raft'] {
  const tickUs = 10_000;
  const hb = raft.heartbeatIntervalTicks ?? 1;
  const gapUs =
    hb * tickUs + 2 * disk.fsyncMaxUs + disk.network.delayMinUs + disk.network.delayJitterUs;
  const minTicks = Math.ceil((2 * gapUs) / tickUs);
  return { ...raft, electionTimeoutTicks: Math.max(raft.electionTimeoutTicks ?? 10, minTicks) };
}

/** Draws the parameters of one seed. */
export function drawSwarm(random: SeededRandom, opsTarget: number): SwarmParams {
  const profile = random.pick(Object.values(SwarmProfile));
  const tickIntervalUs = 10_000;
  const slowDisk =
    profile === 'durability' ||
    (profile !== 'elections' && random.chance(profile === 'reads' ? 0.5 : 0.3));
  // A fast SSD in some seeds, a slow disk (fsyncs of milliseconds) in others.
  const fsyncMinUs = slowDisk ? 2000 + random.int(10_000) : 50 + random.int(500);
  const fsyncJitterUs = slowDisk ? random.int(10_000) : random.int(5000);
  const network = drawNetwork(random, profile);
  const raft = saneElectionTimeout(drawRaft(random, profile), {
    fsyncMaxUs: fsyncMinUs + fsyncJitterUs,
    network,
  });
  const electionTimeoutUs = (raft.electionTimeoutTicks ?? 10) * tickIntervalUs;
  return {
    profile,
    voterCount: random.chance(profile === 'elections' ? 0.5 : 0.6) ? 3 : 5,
    tickIntervalUs,
    driftPercent: raft.clockDriftMaxPercent ?? 10,
    node: {
      raft,
      fsyncMinUs,
      fsyncJitterUs,
      tearOnCrash: random.chance(0.5),
      snapshotKeepEntries: random.pick([0, 5, 50]),
    },
    network,
    faults: drawFaults(random, profile),
    nemesisIntervalMaxUs:
      profile === 'balanced' ? 100_000 + random.int(900_000) : 50_000 + random.int(300_000),
    leaderFlapRate:
      profile === 'elections' ? 0.3 + random.float() * 0.5 : random.chance(0.2) ? 0.1 : 0,
    leaderFlapDelayMaxUs:
      profile === 'elections' ? 100 + random.int(5000) : 1000 + random.int(30_000),
    workload: drawWorkload(random, {
      profile,
      opsTarget,
      requestTimeoutUs:
        electionTimeoutUs * (profile === 'reads' ? 1 + random.int(2) : 2 + random.int(3)),
    }),
  };
}

/** The parameters of a seed in one line, for reports. */
export function describeSwarm(swarm: SwarmParams): string {
  const r = swarm.node.raft;
  const n = swarm.network;
  const faults = Object.entries(swarm.faults)
    .filter(([, w]) => w > 0)
    .map(([k, w]) => `${k}:${w}`)
    .join(',');
  return (
    `profile=${swarm.profile} voters=${swarm.voterCount} et=${r.electionTimeoutTicks} hb=${r.heartbeatIntervalTicks} ` +
    `preVote=${r.preVote} checkQuorum=${r.checkQuorum} read=${r.readOnlyOption} drift=${swarm.driftPercent}% ` +
    `msgMax=${r.messageSizeBytesMax} inflight=${r.inflightMsgsMax} logMax=${r.logEntriesMax} ` +
    `fsync=${swarm.node.fsyncMinUs}+${swarm.node.fsyncJitterUs}us tear=${swarm.node.tearOnCrash} ` +
    `drop=${n.dropRate.toFixed(2)} dup=${n.duplicateRate.toFixed(2)}(+${n.duplicateDelayMaxUs}us) ` +
    `reorder=${n.reorderRate.toFixed(3)} stall=${n.stallRate.toFixed(2)} delay=${n.delayMinUs}+${n.delayJitterUs}us ` +
    `clients=${swarm.workload.clientCount} keys=${swarm.workload.keyCount} reads=${swarm.workload.readFraction.toFixed(2)} ` +
    `abandon=${swarm.workload.abandonAfterAttempts} flap=${swarm.leaderFlapRate.toFixed(2)} faults=${faults}`
  );
}
