import { toEventObject } from '../events/aqueduct-event.parser';
import type { AqueductEvent, AqueductListenerContext } from '../events/aqueduct-event.interface';
import type { ClaimedDelivery } from '../storage/delivery-queue.interface';

/** A delivery's id, `<eventId>:<listener>`: also the idempotency key its listener is given. */
export const deliveryId = (d: { eventId: string; listener: string }) =>
  `${d.eventId}:${d.listener}`;

/** The stored payload as an object (an empty one when nothing was stored). */
const payloadOf = (delivery: ClaimedDelivery) =>
  (delivery.payload ?? {}) as Record<string, unknown>;

/** Builds each event's typed object once for all of its deliveries in a claim. */
export function shareEventObjects(claimed: ClaimedDelivery[]): void {
  const built = new Map<string, unknown>();
  for (const delivery of claimed) {
    if (!built.has(delivery.eventId)) {
      built.set(delivery.eventId, toEventObject(delivery.type, payloadOf(delivery).object));
    }
    delivery.object = built.get(delivery.eventId);
  }
}

/** The event a listener is called with; its typed object is built here when not shared yet. */
export function toListenerEvent(delivery: ClaimedDelivery): AqueductEvent {
  const payload = payloadOf(delivery);
  return {
    id: delivery.eventId,
    type: delivery.type,
    createdAt: delivery.createdAt,
    receivedAt: delivery.receivedAt,
    object:
      delivery.object !== undefined
        ? delivery.object
        : toEventObject(delivery.type, payload.object),
    payload,
  };
}

/** What a listener is told about the run it is in. */
export function toListenerContext(delivery: ClaimedDelivery): AqueductListenerContext {
  return {
    deliveryId: deliveryId(delivery),
    idempotencyKey: deliveryId(delivery),
    eventId: delivery.eventId,
    listener: delivery.listener,
    attempt: delivery.attempts,
    firstRun: delivery.firstRun,
  };
}
