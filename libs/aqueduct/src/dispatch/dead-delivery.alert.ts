import { Injectable } from '@nestjs/common';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductInbox } from '../storage/aqueduct-inbox.service';
import type { ClaimedDelivery } from '../storage/delivery-queue.interface';

import { DELIVERY_DEAD_EVENT } from '../events/module-event-types';

export { DELIVERY_DEAD_EVENT };

/**
 * Turns a dead-lettered delivery into a `delivery.dead` event (when some listener wants it, such as
 * the email alert). Never for the deliveries of a `delivery.dead` event itself: an alert channel
 * that is down must not feed on its own failures.
 */
@Injectable()
export class DeadDeliveryAlert {
  constructor(
    private readonly inbox: AqueductInbox,
    private readonly registry: AqueductListenerRegistry,
  ) {}

  async raise(delivery: ClaimedDelivery, lastError: string): Promise<void> {
    const listeners = this.registry.namesFor(DELIVERY_DEAD_EVENT);
    if (delivery.type === DELIVERY_DEAD_EVENT || listeners.length === 0) {
      return;
    }
    const createdAt = new Date();
    const deliveryId = `${delivery.eventId}:${delivery.listener}`;
    const object = {
      deliveryId,
      eventId: delivery.eventId,
      eventType: delivery.type,
      listener: delivery.listener,
      attempts: delivery.attempts,
      lastError,
    };
    const payload = { type: DELIVERY_DEAD_EVENT, createdAt: createdAt.toISOString(), object };
    await this.inbox.store({
      dedupKey: `dead:${deliveryId}:${delivery.attempts}:${createdAt.getTime()}`,
      type: DELIVERY_DEAD_EVENT,
      createdAt,
      payloadJson: JSON.stringify(payload),
      rawBody: null,
      headers: {},
      deliveryId: null,
      signedAt: null,
      status: 'accepted',
      errors: null,
      listeners,
    });
  }
}
