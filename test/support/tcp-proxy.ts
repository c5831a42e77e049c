import { createServer, type Server, type Socket, connect } from 'node:net';

/**
 * A TCP proxy in front of Postgres that a test can cut and restore, to make the database
 * unreachable for the app without touching the server other tests use. Two kinds of outage:
 * `stop()` refuses and resets (a dead host), `blackhole()` lets nothing through but closes nothing
 * (a network partition: queries in flight just hang) until `restore()`.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<{ client: Socket; upstream?: Socket }>();
  private holes = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** A proxy in front of the Postgres server of `databaseUrl` (not started yet). */
  static inFrontOf(databaseUrl: string): TcpProxy {
    const target = new URL(databaseUrl);
    return new TcpProxy(target.hostname, Number(target.port || 5432));
  }

  /** Started and not stopped since. */
  get listening(): boolean {
    return this.server !== undefined;
  }

  /** `databaseUrl` reaching its database through this proxy, once started. */
  routed(databaseUrl: string): string {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async start(port = this.port): Promise<void> {
    this.server = createServer((client) => {
      const pair: { client: Socket; upstream?: Socket } = { client };
      this.track(client);
      this.pairs.add(pair);
      client.on('close', () => {
        this.pairs.delete(pair);
        pair.upstream?.destroy();
      });
      if (!this.holes) {
        this.link(pair);
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Refuses new connections and drops the open ones, as a dead database host would. */
  async stop(): Promise<void> {
    for (const socket of this.sockets) {
      socket.destroy();
    }
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
    this.server = undefined;
  }

  /** Forwards nothing, either way, and closes nothing: every byte waits until `restore()`. */
  blackhole(): void {
    this.holes = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  /** The partition heals: what waited is delivered, connections opened meanwhile go through. */
  restore(): void {
    // Only a blackholed proxy has anything to heal: linking the open pairs again would pipe twice.
    if (!this.holes) {
      return;
    }
    this.holes = false;
    for (const pair of this.pairs) {
      if (pair.upstream) {
        pair.client.pipe(pair.upstream).pipe(pair.client);
      } else {
        this.link(pair);
      }
    }
  }

  private link(pair: { client: Socket; upstream?: Socket }): void {
    const upstream = connect(this.targetPort, this.targetHost);
    pair.upstream = upstream;
    this.track(upstream);
    upstream.on('close', () => pair.client.destroy());
    pair.client.pipe(upstream).pipe(pair.client);
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }
}
