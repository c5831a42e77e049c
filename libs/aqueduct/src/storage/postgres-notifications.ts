import { type BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { withTimeout } from '../utils/with-timeout';
import { ECHO_CHANNEL } from './aqueduct-storage.constants';

/** Pause before listening again after the connection was lost. */
const RECONNECT_DELAY_MS = 1000;
/**
 * How often the listening connection is asked a trivial query. A connection whose network path
 * stalls raises no error for minutes; a query that gets no answer tells within seconds.
 */
const HEARTBEAT_MS = 3000;
/** How long that query may take before the connection counts as lost. */
const HEARTBEAT_TIMEOUT_MS = 2000;
/** An echo sent at least this long before a heartbeat and not back by then never arrives. */
const ECHO_WAIT_MS = 1000;
/** Between two warnings that notifications do not arrive (a pooler makes them come and go). */
const ECHO_WARN_EVERY_MS = 10 * 60_000;

export type NotificationHandler = (payload: string) => void;
/** Told each time the connection starts listening (true) or is lost (false). */
export type ListeningHandler = (listening: boolean) => void;

/** Channels are fixed names of the module's: never from input (LISTEN takes no parameters). */
const CHANNEL_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * One connection per instance that LISTENs on the module's channels (deliveries to run, access
 * that changed) and hands each notification to its subscribers. Holds one connection of the
 * DataSource's pool while any channel is subscribed. A lost connection (an error, or a heartbeat
 * unanswered) is replaced, and subscribers are told: notifications sent meanwhile are gone, so
 * whoever relies on them must assume it missed some.
 */
@Injectable()
export class PostgresNotifications implements BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductNotifications');
  private readonly channels = new Map<string, Set<NotificationHandler>>();
  private readonly listeningHandlers = new Set<ListeningHandler>();
  private client?: PoolClient;
  /** The channels the current connection LISTENs on. */
  private listened = new Set<string>();
  private connecting?: Promise<void>;
  private retryTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  private stopped = false;
  /**
   * The app is shutting down: no subscriber may open the connection again (one whose start-up was
   * still under way when a failed start-up shut the app down would hold a pooled connection, and
   * the pool's end would wait for it).
   */
  private shutDown = false;
  private lostLogged = false;
  /** Whether the last echo came back (see ECHO_CHANNEL): notifications reach this connection. */
  private delivering = true;
  /** The echo sent and not back yet, and when its NOTIFY committed. */
  private echo?: { nonce: string; sentAt: number };
  private echoes = 0;
  private readonly echoPrefix = `${randomUUID()}:`;
  private echoWarnedAt = Number.NEGATIVE_INFINITY;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Whether notifications are being received now: listening, and the last echo came back. */
  get listening(): boolean {
    return this.client !== undefined && this.delivering;
  }

  /**
   * Subscribes to a channel; resolves once the connection listens on it (or has failed, then it
   * is retried in the background). Returns the unsubscribe function.
   */
  async listen(channel: string, handler: NotificationHandler): Promise<() => Promise<void>> {
    if (!CHANNEL_NAME.test(channel)) {
      throw new Error(`Invalid notification channel name: ${channel}`);
    }
    let handlers = this.channels.get(channel);
    if (!handlers) {
      handlers = new Set();
      this.channels.set(channel, handlers);
    }
    handlers.add(handler);
    this.stopped = false;
    await this.connect();
    const client = this.client;
    if (client && !this.listened.has(channel)) {
      this.listened.add(channel);
      await client.query(`LISTEN ${channel}`).catch((error) => this.lost(client, error));
    }
    return () => this.unlisten(channel, handler);
  }

  /** Calls `handler` on every change of `listening`. Returns the unsubscribe function. */
  onListening(handler: ListeningHandler): () => void {
    this.listeningHandlers.add(handler);
    return () => this.listeningHandlers.delete(handler);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.shutDown = true;
    this.channels.clear();
    await this.close();
  }

  private async unlisten(channel: string, handler: NotificationHandler): Promise<void> {
    const handlers = this.channels.get(channel);
    if (!handlers?.delete(handler) || handlers.size > 0) {
      return;
    }
    this.channels.delete(channel);
    if (this.channels.size === 0) {
      await this.close();
    } else if (this.listened.delete(channel)) {
      await this.client?.query(`UNLISTEN ${channel}`).catch(() => undefined);
    }
  }

  private async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    await this.connecting;
    const client = this.client;
    this.client = undefined;
    this.listened = new Set();
    if (client) {
      await client.query('UNLISTEN *').catch(() => undefined);
      this.detach(client);
      client.release();
      this.tell(false);
    }
  }

  private connect(): Promise<void> {
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<void> {
    const pool = (
      this.dataSource.driver as unknown as { master?: { connect(): Promise<PoolClient> } }
    ).master;
    if (!pool || this.stopped || this.shutDown || this.client || this.channels.size === 0) {
      return;
    }
    let client: PoolClient | undefined;
    try {
      client = await pool.connect();
      client.on('notification', this.onNotification);
      client.on('error', (error) => this.lost(client, error));
      const listened = new Set(this.channels.keys());
      for (const channel of [...listened, ECHO_CHANNEL]) {
        await client.query(`LISTEN ${channel}`);
      }
      if (this.stopped || this.shutDown) {
        this.detach(client);
        client.release();
        return;
      }
      this.client = client;
      this.listened = listened;
      this.delivering = true;
      this.echo = undefined;
      this.heartbeat = setInterval(() => void this.beat(client!), HEARTBEAT_MS);
      this.heartbeat.unref();
      if (this.lostLogged) {
        this.logger.log('Notification connection is back');
        this.lostLogged = false;
      }
      this.tell(true);
    } catch (error) {
      this.lost(client, error, true);
    }
  }

  private readonly onNotification = (message: { channel: string; payload?: string }) => {
    if (message.channel === ECHO_CHANNEL) {
      this.echoed(message.payload ?? '');
      return;
    }
    for (const handler of this.channels.get(message.channel) ?? []) {
      try {
        handler(message.payload ?? '');
      } catch (error) {
        this.logger.error(`A ${message.channel} subscriber failed: ${(error as Error).message}`);
      }
    }
  };

  private async beat(client: PoolClient): Promise<void> {
    try {
      await withTimeout(client.query('SELECT 1'), HEARTBEAT_TIMEOUT_MS);
    } catch (error) {
      this.lost(client, error);
      return;
    }
    const echo = this.echo;
    if (echo && Date.now() - echo.sentAt >= ECHO_WAIT_MS) {
      this.echo = undefined;
      this.notDelivering();
    }
    if (!this.echo) {
      await this.sendEcho();
    }
  }

  /**
   * NOTIFYs the echo channel from an ordinary pooled connection (another session, as a change
   * made anywhere is): it must come back on the listening connection before the next heartbeat.
   * A send that fails or waits (a busy pool, Postgres down) proves nothing, and is not judged.
   */
  private async sendEcho(): Promise<void> {
    const echo = { nonce: `${this.echoPrefix}${++this.echoes}`, sentAt: Number.POSITIVE_INFINITY };
    this.echo = echo; // before the send: it may come back before the send's own answer does
    try {
      await withTimeout(
        this.dataSource.query('SELECT pg_notify($1, $2)', [ECHO_CHANNEL, echo.nonce]),
        HEARTBEAT_TIMEOUT_MS,
      );
      echo.sentAt = Date.now();
    } catch {
      if (this.echo === echo) {
        this.echo = undefined;
      }
    }
  }

  private echoed(nonce: string): void {
    if (this.echo?.nonce !== nonce) {
      return; // another instance's, or one already judged
    }
    this.echo = undefined;
    if (!this.delivering && this.client) {
      this.delivering = true;
      this.logger.log('Notifications reach this instance again');
      this.tell(true);
    }
  }

  private notDelivering(): void {
    if (!this.delivering) {
      return;
    }
    this.delivering = false;
    const now = Date.now();
    if (now - this.echoWarnedAt >= ECHO_WARN_EVERY_MS) {
      this.echoWarnedAt = now;
      this.logger.warn(
        'Notifications do not reach this instance: a NOTIFY sent through the pool did not come ' +
          'back on the listening connection. Is a pooler in transaction or statement mode between ' +
          'the app and Postgres (LISTEN needs a session)? Until they do, access checks keep ' +
          'entries for access.cache.disconnectedTtlMs only and deliveries wait for the poll.',
      );
    }
    this.tell(false);
  }

  /** Our handlers off: the pool's own handle a client once it is back in the pool. */
  private detach(client: PoolClient): void {
    client.removeListener('notification', this.onNotification);
    client.removeAllListeners('error');
  }

  private lost(client: PoolClient | undefined, error: unknown, opening = false): void {
    const wasListening = client !== undefined && client === this.client;
    if (client && (wasListening || opening)) {
      this.detach(client);
      // Destroyed, not reused: a connection that failed a query is not trusted again.
      client.release(error instanceof Error ? error : new Error(String(error)));
    }
    if (wasListening) {
      this.client = undefined;
      this.listened = new Set();
      clearInterval(this.heartbeat);
      this.tell(false);
    } else if (!opening) {
      return; // an old connection's late error: already replaced
    }
    if (this.stopped) {
      return;
    }
    if (!this.lostLogged) {
      this.logger.warn(
        `Lost the notification connection (${(error as Error)?.message}); retrying every ${RECONNECT_DELAY_MS} ms`,
      );
      this.lostLogged = true;
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), RECONNECT_DELAY_MS);
    this.retryTimer.unref();
  }

  private tell(listening: boolean): void {
    for (const handler of this.listeningHandlers) {
      handler(listening);
    }
  }
}
