/**
 * An in-memory network of {@link Transport}s for driver tests. Every message is encoded to the
 * wire format and decoded on arrival, so tests exercise the real codec; delivery is
 * asynchronous (a macrotask later) and can be cut between any two nodes.
 */
import type { Message, NodeId } from '../index.ts';
import { decodeMessage, encodeMessage, type Transport } from '../node.ts';

/** The wire between in-memory transports, with switches for partitions. */
export class InMemoryNetwork {
  readonly #handlers = new Map<NodeId, (m: Message) => void>();
  readonly #lostHandlers = new Map<NodeId, (peerId: number) => void>();
  #blocked = new Set<string>();
  /** Messages that failed to decode on arrival (should stay 0). */
  decodeFailures = 0;
  /** Messages delivered, for tests that count traffic. */
  delivered = 0;

  /** The transport of node id. */
  connect(id: NodeId): Transport {
    return {
      send: (messages) => {
        this.#sendAll(messages);
      },
      listen: (handler) => {
        this.#handlers.set(id, handler);
      },
      onPeerLost: (handler) => {
        this.#lostHandlers.set(id, handler);
      },
      close: () => {
        this.#handlers.delete(id);
        this.#lostHandlers.delete(id);
        return Promise.resolve();
      },
    };
  }

  /** Encodes now, delivers a macrotask later: one task per batch, as a socket write would. */
  #sendAll(messages: readonly Message[]): void {
    const encoded = messages
      .filter((m) => !this.#blocked.has(`${m.from}>${m.to}`))
      .map((m) => encodeMessage(m));
    if (encoded.length === 0) {
      return;
    }
    setImmediate(() => {
      for (const bytes of encoded) {
        this.#deliver(bytes);
      }
    });
  }

  #deliver(bytes: Uint8Array): void {
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) {
      this.decodeFailures++;
      return;
    }
    const m = decoded.value;
    const handler = this.#handlers.get(m.to);
    if (handler !== undefined && !this.#blocked.has(`${m.from}>${m.to}`)) {
      this.delivered++;
      handler(m);
    }
  }

  /** Drops every message between a and b, both ways. */
  cut(a: number, b: number): void {
    this.#blocked.add(`${a}>${b}`);
    this.#blocked.add(`${b}>${a}`);
  }

  /** Cuts node id off from the given peers. */
  isolate(id: number, peers: readonly number[]): void {
    for (const peer of peers) {
      if (peer !== id) {
        this.cut(id, peer);
      }
    }
  }

  /** Tells node `id`'s transport that its connection to `peer` broke (as a peer's crash would). */
  reportLost(id: number, peer: number): void {
    this.#lostHandlers.get(id as NodeId)?.(peer);
  }

  heal(): void {
    this.#blocked = new Set();
  }
}
