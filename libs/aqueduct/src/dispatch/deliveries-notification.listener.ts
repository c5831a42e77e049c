import { Injectable } from '@nestjs/common';
import { PostgresNotifications } from '../storage/postgres-notifications';
import { DELIVERIES_CHANNEL, DispatchSignal } from '../storage/dispatch-signal';

/**
 * LISTENs on the deliveries channel, so an event received by any instance wakes this one's
 * dispatcher within milliseconds. While the connection is lost, the poll keeps work flowing.
 */
@Injectable()
export class DeliveriesNotificationListener {
  private unlisten?: () => Promise<void>;

  constructor(
    private readonly notifications: PostgresNotifications,
    private readonly signal: DispatchSignal,
  ) {}

  async start(): Promise<void> {
    this.unlisten ??= await this.notifications.listen(DELIVERIES_CHANNEL, () => this.signal.wake());
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.();
  }
}
