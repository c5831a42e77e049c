import type { Logger } from '@nestjs/common';
import type { ClaimedDelivery, DeliveryQueue } from '../storage/delivery-queue.interface';
import { deliveryId } from './claimed-delivery.mapper';

/**
 * Records the success of deliveries in the background, so a slot is free as soon as its listener
 * is done: the queue writes completions that finish together in one statement.
 */
export class CompletionRecorder {
  /**
   * Deliveries whose listener is done but whose `done` is not written yet (it joins the next batch
   * of completions). Their leases are still renewed: a lease that lapsed before a slow write would
   * let a claim run the listener again.
   */
  private readonly completing = new Map<string, ClaimedDelivery>();
  /** Completions written in the background, awaited on shutdown. */
  private readonly recording = new Set<Promise<unknown>>();

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly owner: string,
    private readonly logger: Logger,
  ) {}

  /** Starts writing the `done` of a delivery whose listener succeeded. */
  record(delivery: ClaimedDelivery): void {
    const id = deliveryId(delivery);
    this.completing.set(id, delivery);
    this.track(
      this.queue
        .complete(delivery, this.owner)
        .catch((failure) =>
          this.logger.error(
            `Could not record success of ${id} (it will run again): ${failure.message}`,
          ),
        )
        .finally(() => this.completing.delete(id)),
    );
  }

  /** Whether the `done` of this delivery is still being written. */
  has(id: string): boolean {
    return this.completing.has(id);
  }

  /** The deliveries whose `done` is still being written (their leases must be renewed). */
  deliveries(): IterableIterator<ClaimedDelivery> {
    return this.completing.values();
  }

  /** Settles when the writes started so far have. */
  settled(): Promise<unknown[]> {
    return Promise.all(this.recording);
  }

  private track(write: Promise<unknown>): void {
    this.recording.add(write);
    void write.finally(() => this.recording.delete(write));
  }
}
