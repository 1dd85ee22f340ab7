/**
 * PartitionProxy: an HTTP CONNECT proxy that carries one node's outbound connections (the node
 * runs with `grpc_proxy` naming it, which grpc-js honours), so a test can cut that node off:
 * `isolate()` drops every tunnel of the node and refuses new ones, `block(target)` does the same
 * for tunnels to one address (another node's cluster port). With one proxy per node, cutting a
 * node's own proxy and blocking it in every other proxy is a symmetric partition, in real
 * processes on loopback, without root. TLS runs end to end through the tunnel.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';

interface Tunnel {
  readonly target: string;
  readonly client: Socket;
  readonly upstream: Socket;
}

/** One node's outbound proxy. */
export class PartitionProxy {
  readonly #server: Server;
  readonly #tunnels = new Set<Tunnel>();
  readonly #blocked = new Set<string>();
  #isolated = false;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Starts a proxy on a free loopback port. */
  static async start(): Promise<PartitionProxy> {
    const server = createServer((_request, response) => {
      response.writeHead(405).end();
    });
    const proxy = new PartitionProxy(server);
    server.on('connect', (request: IncomingMessage, client: Socket, head: Buffer) => {
      proxy.#open(request.url ?? '', client, head);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The `grpc_proxy` value for the node behind this proxy. */
  get url(): string {
    return `http://127.0.0.1:${String((this.#server.address() as AddressInfo).port)}`;
  }

  /** Cuts (or restores) every connection of the node behind this proxy. */
  isolate(on: boolean): void {
    this.#isolated = on;
    this.#dropRefused();
  }

  /** Cuts (or restores) this node's connections to `target` (host:port). */
  block(target: string, on: boolean): void {
    if (on) {
      this.#blocked.add(target);
    } else {
      this.#blocked.delete(target);
    }
    this.#dropRefused();
  }

  async close(): Promise<void> {
    for (const tunnel of this.#tunnels) {
      tunnel.client.destroy();
      tunnel.upstream.destroy();
    }
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
  }

  #refuses(target: string): boolean {
    return this.#isolated || this.#blocked.has(target);
  }

  #dropRefused(): void {
    for (const tunnel of this.#tunnels) {
      if (this.#refuses(tunnel.target)) {
        tunnel.client.destroy();
        tunnel.upstream.destroy();
        this.#tunnels.delete(tunnel);
      }
    }
  }

  #open(target: string, client: Socket, head: Buffer): void {
    const colon = target.lastIndexOf(':');
    if (this.#refuses(target) || colon < 0) {
      client.end('HTTP/1.1 503 Partitioned\r\n\r\n');
      return;
    }
    const upstream = connect(Number(target.slice(colon + 1)), target.slice(0, colon));
    const tunnel: Tunnel = { target, client, upstream };
    this.#tunnels.add(tunnel);
    const close = (): void => {
      this.#tunnels.delete(tunnel);
      client.destroy();
      upstream.destroy();
    };
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) {
        upstream.write(head);
      }
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', close);
    client.on('error', close);
    upstream.on('close', close);
    client.on('close', close);
  }
}
