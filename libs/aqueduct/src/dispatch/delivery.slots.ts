import type { Logger } from '@nestjs/common';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import type { ClaimedDelivery } from '../storage/delivery-queue.interface';
import { deliveryId } from './claimed-delivery.mapper';
import type { CompletionRecorder } from './completion.recorder';
import { type ListenerRunner, describeThrown } from './listener.runner';

interface Running {
  delivery: ClaimedDelivery;
  done: Promise<void>;
}

/**
 * The deliveries this instance holds: running (at most `concurrency` at once), waiting in memory
 * for a slot (the fast path's), or waiting for their `done` to be written (`CompletionRecorder`).
 */
export class DeliverySlots {
  private readonly inFlight = new Map<string, Running>();
  /** Deliveries leased to this instance by the fast path, waiting for a free slot. */
  private readonly local: ClaimedDelivery[] = [];

  /**
   * @param open whether waiting deliveries may still be started (the dispatcher is running)
   * @param onFreed called after a listener finished and the waiting ones took the free slots
   */
  constructor(
    private readonly dispatch: ResolvedAqueductOptions['dispatch'],
    private readonly runner: ListenerRunner,
    private readonly completions: CompletionRecorder,
    private readonly open: () => boolean,
    private readonly onFreed: () => void,
    private readonly logger: Logger,
  ) {}

  /** Deliveries running or waiting in memory. */
  get occupied(): number {
    return this.inFlight.size + this.local.length;
  }

  /** Slots a claim may fill: those the running and waiting deliveries leave free (may be < 0). */
  get free(): number {
    return this.dispatch.concurrency - this.occupied;
  }

  /** Queues fast-path deliveries and starts them while slots are free. */
  enqueue(deliveries: ClaimedDelivery[]): void {
    this.local.push(...deliveries);
    this.pump();
  }

  /** Takes out the deliveries still waiting in memory (to hand them back). */
  takeWaiting(): ClaimedDelivery[] {
    return this.local.splice(0);
  }

  launch(delivery: ClaimedDelivery): void {
    const done = this.runner
      .run(delivery)
      // The runner records every outcome itself; whatever still escapes it must not end the
      // process (an unhandled rejection does) nor keep the slot.
      .catch((error: unknown) =>
        this.logger.error(`Running ${deliveryId(delivery)} failed: ${describeThrown(error)}`),
      )
      .finally(() => {
        this.inFlight.delete(deliveryId(delivery));
        this.pump();
        this.onFreed();
      });
    this.inFlight.set(deliveryId(delivery), { delivery, done });
  }

  /** Waiting in memory, running, or waiting for its `done` to be written, here. */
  holds(delivery: ClaimedDelivery): boolean {
    const id = deliveryId(delivery);
    return (
      this.inFlight.has(id) ||
      this.completions.has(id) ||
      this.local.some((waiting) => deliveryId(waiting) === id)
    );
  }

  /** Every delivery leased to this instance: its leases are the heartbeat's to renew. */
  held(): ClaimedDelivery[] {
    return [
      ...[...this.inFlight.values()].map((entry) => entry.delivery),
      ...this.local,
      ...this.completions.deliveries(),
    ];
  }

  /**
   * Waits up to `shutdownTimeoutMs` for the running listeners. Returns the deliveries still
   * running when the time ran out, or nothing when all finished in time.
   */
  async settle(): Promise<ClaimedDelivery[] | undefined> {
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(resolve, this.dispatch.shutdownTimeoutMs, 'timeout').unref(),
    );
    const finished = Promise.all([...this.inFlight.values()].map((entry) => entry.done));
    if ((await Promise.race([finished, timeout])) === 'timeout') {
      return [...this.inFlight.values()].map((entry) => entry.delivery);
    }
    return undefined;
  }

  /** Starts waiting fast-path deliveries while slots are free. */
  private pump(): void {
    while (this.open() && this.local.length > 0 && this.inFlight.size < this.dispatch.concurrency) {
      this.launch(this.local.shift() as ClaimedDelivery);
    }
  }
}
