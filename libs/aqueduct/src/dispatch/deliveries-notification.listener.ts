import { Injectable, Logger } from '@nestjs/common';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductDeliveryStore } from '../storage/aqueduct-delivery.store';
import { ACCEPTED_EVENT_PREFIX } from '../storage/aqueduct-delivery.sql';
import { PostgresNotifications } from '../storage/postgres-notifications';
import { DELIVERIES_CHANNEL, DispatchSignal } from '../storage/dispatch-signal';
import { isEventId } from '../storage/event-id';

/**
 * LISTENs on the deliveries channel, so an event received by any instance wakes this one's
 * dispatcher within milliseconds. While the connection is lost, the poll keeps work flowing. An
 * event accepted after it was stored (a reprocess, by the CLI perhaps, which knows only the
 * built-in listeners) gets the deliveries of this instance's listeners too.
 */
@Injectable()
export class DeliveriesNotificationListener {
  private readonly logger = new Logger('AqueductDispatcher');
  private unlisten?: () => Promise<void>;

  constructor(
    private readonly notifications: PostgresNotifications,
    private readonly signal: DispatchSignal,
    private readonly deliveries: AqueductDeliveryStore,
    private readonly registry: AqueductListenerRegistry,
  ) {}

  async start(): Promise<void> {
    this.unlisten ??= await this.notifications.listen(DELIVERIES_CHANNEL, (payload) => {
      this.signal.wake();
      const eventId = payload.startsWith(ACCEPTED_EVENT_PREFIX)
        ? payload.slice(ACCEPTED_EVENT_PREFIX.length)
        : '';
      if (isEventId(eventId)) {
        this.deliveries
          .createMissing(eventId, (type) => this.registry.namesFor(type))
          .catch((error: Error) =>
            this.logger.error(
              `Could not create the deliveries of accepted event ${eventId}: ${error.message}`,
            ),
          );
      }
    });
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    await unlisten?.();
  }
}
