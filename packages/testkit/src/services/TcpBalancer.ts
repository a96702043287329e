import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A round-robin TCP load balancer on loopback, as operators put in front of signaling nodes: no
 * stickiness, and a backend that refuses connections is skipped. Lets a test kill a node behind
 * one URL and watch its clients land on another.
 */
export class TcpBalancer {
  #next = 0;
  readonly #sockets = new Set<Socket>();

  private constructor(
    readonly server: Server,
    readonly backends: Array<{ host: string; port: number }>,
  ) {}

  static async start(backends: Array<{ host: string; port: number }>): Promise<TcpBalancer> {
    const server = createServer();
    const balancer = new TcpBalancer(server, backends);
    server.on('connection', (client) => balancer.#route(client, 0));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return balancer;
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('balancer not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  #route(client: Socket, tried: number): void {
    if (tried >= this.backends.length) {
      client.destroy();
      return;
    }
    const backend = this.backends[this.#next++ % this.backends.length]!;
    const upstream = createConnection(backend);
    upstream.once('error', () => {
      if (!upstream.readableEnded && upstream.bytesRead === 0) this.#route(client, tried + 1);
      else client.destroy();
    });
    upstream.once('connect', () => {
      this.#sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.once('close', drop).once('error', drop);
      upstream.once('close', drop).once('error', drop);
    });
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
