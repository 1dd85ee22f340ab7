/**
 * The simulated network between nodes and clients. Each seed draws its own fault mix (its
 * "swarm" parameters): a drop rate of 0–30%, a duplicate rate of 0–50%, a base delay with jitter,
 * a reorder rate (links are FIFO like TCP connections except for the messages picked to
 * overtake or fall behind) and rare long stalls. On top of that the nemesis cuts links:
 * symmetric partitions, one-way partitions and clogged links (messages wait until the clog
 * clears, then arrive in a burst).
 *
 * Endpoints are numbers: node ids are small, client ids are at least {@link clientIdBase}.
 * Partitions and clogs only ever cut links between two nodes; clients reach every node, which is
 * what lets a deposed leader keep serving a client that still believes in it.
 */
import type { SimWorld } from './sim_world.ts';

/** Client endpoints are numbered from here; everything below is a node. */
export const clientIdBase = 1000;

/** The fault mix of one seed. */
export interface NetworkParams {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  duplicateRate: number;
  /** A duplicate arrives up to this much later than an ordinary copy (a late retransmission). */
  duplicateDelayMaxUs: number;
  /** Smallest one-way delay. */
  delayMinUs: number;
  /** Uniform extra delay on top of delayMinUs; it makes messages overtake each other. */
  delayJitterUs: number;
  /**
   * Probability that a message leaves its link's order (a link is otherwise FIFO, like the TCP
   * connection a real transport uses); a duplicate always arrives after its original.
   */
  reorderRate: number;
  /** Probability that a message is stalled for up to stallMaxUs more. */
  stallRate: number;
  stallMaxUs: number;
}

function linkKey(from: number, to: number): number {
  return from * 65_536 + to;
}

function isNodeLink(from: number, to: number): boolean {
  return from < clientIdBase && to < clientIdBase;
}

/** Links, their faults, and the delivery of messages as world events. */
export class SimNetwork {
  params: NetworkParams;
  readonly #world: SimWorld;
  readonly #blocked = new Set<number>();
  readonly #clogUntilUs = new Map<number, number>();
  /** Arrival time of the last in-order message of each link. */
  readonly #lastArrivalUs = new Map<number, number>();

  constructor(options: { world: SimWorld; params: NetworkParams }) {
    this.#world = options.world;
    this.params = options.params;
  }

  /**
   * Sends one message: schedules deliver for each copy that survives, and returns how many
   * copies were scheduled (0 when the message was lost or the link is cut).
   */
  transmit(from: number, to: number, deliver: () => void): number {
    if (this.isBlocked(from, to)) {
      return 0;
    }
    const random = this.#world.random;
    const p = this.params;
    if (p.dropRate > 0 && random.chance(p.dropRate)) {
      return 0;
    }
    const copies = p.duplicateRate > 0 && random.chance(p.duplicateRate) ? 2 : 1;
    const key = linkKey(from, to);
    const clogUntil = isNodeLink(from, to) ? (this.#clogUntilUs.get(key) ?? 0) : 0;
    let delay = p.delayMinUs + random.int(p.delayJitterUs + 1);
    if (p.stallRate > 0 && random.chance(p.stallRate)) {
      delay += random.int(p.stallMaxUs + 1);
    }
    let arrival = Math.max(this.#world.nowUs + delay, clogUntil + random.int(1000));
    if (!(p.reorderRate > 0 && random.chance(p.reorderRate))) {
      arrival = Math.max(arrival, this.#lastArrivalUs.get(key) ?? 0);
      this.#lastArrivalUs.set(key, arrival);
    }
    this.#world.at(arrival, deliver);
    if (copies === 2) {
      // A duplicate is a late retransmission: it comes after the original, out of order.
      this.#world.at(
        arrival + 1 + random.int(p.delayJitterUs + p.duplicateDelayMaxUs + 1),
        deliver,
      );
    }
    return copies;
  }

  /** Whether messages from one node to another are cut. */
  isBlocked(from: number, to: number): boolean {
    return isNodeLink(from, to) && this.#blocked.has(linkKey(from, to));
  }

  /** Cuts the link from one node to another (one way). */
  blockOneWay(from: number, to: number): void {
    this.#blocked.add(linkKey(from, to));
  }

  /** Cuts every link between the two groups, both ways. */
  partition(groupA: readonly number[], groupB: readonly number[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.blockOneWay(a, b);
        this.blockOneWay(b, a);
      }
    }
  }

  /** Holds every message from one node to another until untilUs. */
  clog(from: number, to: number, untilUs: number): void {
    const key = linkKey(from, to);
    this.#clogUntilUs.set(key, Math.max(untilUs, this.#clogUntilUs.get(key) ?? 0));
  }

  /** Removes every partition and clog. */
  healLinks(): void {
    this.#blocked.clear();
    this.#clogUntilUs.clear();
  }

  /** Heals the links and stops losing, duplicating, reordering and stalling messages. */
  healAll(): void {
    this.healLinks();
    this.params = { ...this.params, dropRate: 0, duplicateRate: 0, reorderRate: 0, stallRate: 0 };
  }

  /** A one-line description of the cut links, for the trace. */
  describeCuts(): string {
    const cuts = [...this.#blocked].map((key) => `${Math.floor(key / 65_536)}->${key % 65_536}`);
    return cuts.length === 0 ? 'none' : cuts.join(' ');
  }
}
