import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { DELIVERIES_CHANNEL, DispatchSignal } from './dispatch-signal';

/** Pause before listening again after the connection was lost. */
const RECONNECT_DELAY_MS = 2000;

/**
 * LISTENs on the deliveries channel, so an event received by any instance wakes this one's
 * dispatcher within milliseconds. Holds one connection of the DataSource's pool; if it is lost,
 * the poll keeps work flowing until the listener is back.
 */
@Injectable()
export class DeliveriesNotificationListener {
  private readonly logger = new Logger('AqueductDispatcher');
  private client?: PoolClient;
  private stopped = true;
  private retryTimer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly signal: DispatchSignal,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = undefined;
    if (client) {
      await client.query(`UNLISTEN ${DELIVERIES_CHANNEL}`).catch(() => undefined);
      this.detach(client);
      client.release();
    }
  }

  private async connect(): Promise<void> {
    const pool = (
      this.dataSource.driver as unknown as { master?: { connect(): Promise<PoolClient> } }
    ).master;
    if (!pool || this.stopped) {
      return;
    }
    try {
      const client = await pool.connect();
      client.on('notification', this.onNotification);
      client.on('error', (error) => this.lost(client, error));
      await client.query(`LISTEN ${DELIVERIES_CHANNEL}`);
      this.client = client;
    } catch (error) {
      this.lost(undefined, error);
    }
  }

  private readonly onNotification = () => this.signal.wake();

  /** Our handlers off: the pool's own handle a client once it is back in the pool. */
  private detach(client: PoolClient): void {
    client.removeListener('notification', this.onNotification);
    client.removeAllListeners('error');
  }

  private lost(client: PoolClient | undefined, error: unknown): void {
    if (client && client === this.client) {
      this.detach(client);
      client.release(error as Error);
    }
    this.client = undefined;
    if (this.stopped) {
      return;
    }
    this.logger.warn(
      `Lost the notification connection (${(error as Error)?.message}); polling until it is back`,
    );
    this.retryTimer = setTimeout(() => void this.connect(), RECONNECT_DELAY_MS);
    this.retryTimer.unref();
  }
}
