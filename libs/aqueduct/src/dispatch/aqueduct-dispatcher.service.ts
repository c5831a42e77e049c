import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DataSource } from 'typeorm';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { deliveryId, shareEventObjects } from './claimed-delivery.mapper';
import { CompletionRecorder } from './completion.recorder';
import { DeadDeliveryAlert } from './dead-delivery.alert';
import { DeliveriesNotificationListener } from './deliveries-notification.listener';
import { DeliverySlots } from './delivery.slots';
import { LeaseHeartbeat } from './lease.heartbeat';
import { ListenerRunner } from './listener.runner';
import {
  DELIVERY_QUEUE,
  type ClaimedDelivery,
  type DeliveryKey,
  type DeliveryQueue,
} from '../storage/delivery-queue.interface';
import { DispatchSignal } from '../storage/dispatch-signal';
import { poolSizeOf, RESERVED_CONNECTIONS } from '../storage/pool-size';

/**
 * Runs every instance's share of the deliveries: claims due ones (bounded by `concurrency`), runs
 * each listener outside any transaction, then records success, schedules a retry, or dead-letters.
 * Woken by inbox writes (here and, through NOTIFY, elsewhere) and by a poll.
 */
@Injectable()
export class AqueductDispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** Names this process in `locked_by`, so leases can be told apart and fenced. */
  readonly instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly logger = new Logger('AqueductDispatcher');
  private running = false;
  private loop?: Promise<void>;
  /** The last claim filled every free slot: more work is likely waiting. */
  private backlog = false;
  /** Room promised to events being stored right now (see `reserve`). */
  private reserved = 0;
  private readonly completions: CompletionRecorder;
  private readonly heartbeat: LeaseHeartbeat;
  private readonly slots: DeliverySlots;
  /** The options' dispatch settings, with the concurrency the pool allows (see `concurrencyFor`). */
  private readonly dispatch: ResolvedAqueductOptions['dispatch'];

  constructor(
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    @InjectDataSource() dataSource: DataSource,
    @Inject(DELIVERY_QUEUE) private readonly queue: DeliveryQueue,
    private readonly registry: AqueductListenerRegistry,
    private readonly signal: DispatchSignal,
    private readonly notifications: DeliveriesNotificationListener,
    deadAlert: DeadDeliveryAlert,
    metrics: AqueductMetrics,
  ) {
    const dispatch = (this.dispatch = {
      ...options.dispatch,
      concurrency: concurrencyFor(options.dispatch.concurrency, poolSizeOf(dataSource)),
    });
    const owner = this.instanceId;
    this.completions = new CompletionRecorder(queue, owner, this.logger);
    const runner = new ListenerRunner(
      dispatch,
      queue,
      owner,
      registry,
      this.completions,
      deadAlert,
      metrics,
      this.logger,
    );
    this.slots = new DeliverySlots(
      dispatch,
      runner,
      this.completions,
      () => this.running,
      // A finished listener frees a slot: with a backlog, claim again at once rather than at the poll.
      () => {
        if (this.backlog) {
          this.signal.wake();
        }
      },
      this.logger,
    );
    this.heartbeat = new LeaseHeartbeat(
      dispatch,
      queue,
      owner,
      () => this.slots.held(),
      this.logger,
    );
  }

  get isRunning(): boolean {
    return this.running;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.dispatch.enabled && this.registry.names().length > 0) {
      await this.start();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  async start(): Promise<void> {
    if (this.running) {
      return;
    }
    this.running = true;
    await this.notifications.start();
    this.heartbeat.start();
    this.loop = this.run();
    const { concurrency } = this.dispatch;
    const asked = this.options.dispatch.concurrency;
    // Said as it is, not as a fault: with both defaults (pool 10, concurrency 10) every app sees it.
    const pool = concurrency + RESERVED_CONNECTIONS;
    this.logger.log(
      `Dispatcher ${this.instanceId} started (concurrency ${concurrency}` +
        (concurrency < asked
          ? `: TypeORM's pool of ${pool} connections keeps ${RESERVED_CONNECTIONS} for the webhook and the ` +
            `dispatcher, as listeners may each hold one; to run ${asked} at once (dispatch.concurrency), ` +
            `set its extra.max to ${asked + RESERVED_CONNECTIONS})`
          : ')'),
    );
  }

  /** Stops claiming, waits for running listeners up to `shutdownTimeoutMs`, hands back the rest. */
  async stop(): Promise<void> {
    if (!this.running) {
      return;
    }
    this.running = false;
    this.signal.wake();
    await this.loop;
    await this.notifications.stop();
    await this.release(this.slots.takeWaiting());
    const unfinished = await this.slots.settle();
    if (unfinished) {
      this.logger.warn(
        `Handing back ${unfinished.length} unfinished deliveries; they will run again`,
      );
      await this.release(unfinished);
    }
    await this.completions.settled();
    this.heartbeat.stop();
  }

  /** Hands deliveries back to be run again at once, by any instance. */
  /**
   * Deliveries the inbox stored leased to this instance after their request was answered 503
   * (the write outlived `storeTimeoutMs`): nobody here runs them, so they go back to the queue,
   * for any instance now rather than after their lease.
   */
  releaseLate(eventId: string, listeners: string[]): void {
    void this.release(listeners.map((listener) => ({ eventId, listener }))).then(() =>
      this.signal.wake(),
    );
  }

  private async release(deliveries: DeliveryKey[]): Promise<void> {
    await this.queue
      .release(deliveries, this.instanceId)
      .catch((error) => this.logger.error(`Release failed: ${error.message}`));
  }

  /**
   * The fast path: the receiving instance runs an event's listeners itself, right after the ack,
   * with no claim round trip. Reserving room first lets the inbox create the deliveries already
   * leased to this instance; if the process dies before they finish, the lease expires and any
   * instance retakes them, as for claimed work. Returns the lease to store them with, or nothing
   * when this instance is not dispatching or is full (then they are stored pending, for anyone).
   */
  reserve(count: number): { owner: string; leaseMs: number } | undefined {
    // Bounded (`localBacklogPerSlot`), so a burst cannot pile up unbounded work in one process;
    // beyond it, deliveries are stored pending for any instance.
    const { concurrency, leaseMs, localBacklogPerSlot } = this.dispatch;
    const outstanding = this.slots.occupied + this.reserved;
    if (!this.running || count === 0 || outstanding + count > concurrency * localBacklogPerSlot) {
      return undefined;
    }
    this.reserved += count;
    return { owner: this.instanceId, leaseMs };
  }

  /** Gives back reserved room that was not used (a duplicate, a rejected event, a failed write). */
  unreserve(count: number): void {
    this.reserved = Math.max(0, this.reserved - count);
  }

  /**
   * Takes deliveries the inbox stored leased to this instance (after the answer is on its way).
   * They wait in memory for a slot, with their leases renewed like running ones.
   */
  runReserved(deliveries: ClaimedDelivery[]): void {
    setImmediate(() => {
      this.unreserve(deliveries.length);
      if (!this.running) {
        // Stored while this instance was shutting down: hand them to the other instances now
        // rather than after their lease.
        void this.queue.release(deliveries, this.instanceId).catch(() => undefined);
        return;
      }
      this.slots.enqueue(deliveries);
    });
  }

  private async run(): Promise<void> {
    const { pollIntervalMs } = this.options.dispatch;
    while (this.running) {
      // One tick first, so completions that land together are answered by one claim.
      await new Promise((resolve) => setImmediate(resolve));
      // Claim only when the fast path leaves slots free: its deliveries are already leased here.
      const free = this.slots.free;
      if (free > 0 && (await this.claim(free))) {
        continue;
      }
      await this.signal.wait(pollIntervalMs);
    }
  }

  /** Claims up to `free` deliveries and launches them; true when they filled every free slot. */
  private async claim(free: number): Promise<boolean> {
    try {
      const claimed = await this.queue.claim(
        this.instanceId,
        this.registry.names(),
        free,
        this.options.dispatch.leaseMs,
      );
      shareEventObjects(claimed);
      claimed.forEach((delivery) => {
        // A lease of ours can lapse while we still hold the delivery (a heartbeat delayed on a
        // saturated pool); the claim then hands it back to us. Running it twice in one process
        // would be a duplicate the lease was meant to prevent: the holder finishes it.
        if (this.slots.holds(delivery)) {
          this.logger.warn(
            `Lease of ${deliveryId(delivery)} lapsed while this instance held it; not running it twice`,
          );
        } else {
          this.slots.launch(delivery);
        }
      });
      this.backlog = claimed.length === free;
      return this.backlog;
    } catch (error) {
      this.logger.warn(`Could not claim deliveries: ${(error as Error).message}`);
      return false;
    }
  }
}

/**
 * Listeners running at once: at most what the pool leaves once the module's own work has its
 * connections. A host listener (or adapter) holding a pooled connection for seconds, as many at
 * once as the pool has, would otherwise leave the webhook route none: 503 while Postgres is up,
 * until Aqueduct disables the endpoint.
 */
function concurrencyFor(asked: number, poolSize: number): number {
  return Math.min(asked, Math.max(1, poolSize - RESERVED_CONNECTIONS));
}
