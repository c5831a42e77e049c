import type { Logger } from '@nestjs/common';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import type { ClaimedDelivery, DeliveryQueue } from '../storage/delivery-queue.interface';

/** Shortest interval between two renewals, whatever the lease. */
const MIN_HEARTBEAT_MS = 100;

/** Leases are renewed three times per lease, so one delayed renewal does not let them lapse. */
const RENEWALS_PER_LEASE = 3;

/**
 * Keeps the leases of the deliveries this instance holds from expiring while it holds them
 * (waiting in memory, running, or waiting for their `done` to be written).
 */
export class LeaseHeartbeat {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dispatch: ResolvedAqueductOptions['dispatch'],
    private readonly queue: DeliveryQueue,
    private readonly owner: string,
    private readonly held: () => ClaimedDelivery[],
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(
      () => void this.renew(),
      Math.max(MIN_HEARTBEAT_MS, Math.floor(this.dispatch.leaseMs / RENEWALS_PER_LEASE)),
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async renew(): Promise<void> {
    await this.queue
      .extend(this.held(), this.owner, this.dispatch.leaseMs)
      .catch((error) => this.logger.warn(`Could not extend leases: ${error.message}`));
  }
}
