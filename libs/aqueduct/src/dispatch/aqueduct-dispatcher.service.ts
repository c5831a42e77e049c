import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { toEventObject } from '../events/aqueduct-event.parser';
import type { AqueductEvent, AqueductListenerContext } from '../events/aqueduct-event.interface';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { retryDelayMs } from '../utils/backoff';
import { DeadDeliveryAlert } from './dead-delivery.alert';
import { DeliveriesNotificationListener } from './deliveries-notification.listener';
import {
  DELIVERY_QUEUE,
  type ClaimedDelivery,
  type DeliveryQueue,
} from '../storage/delivery-queue.interface';
import { DispatchSignal } from '../storage/dispatch-signal';
import { printable } from '../utils/printable';

const deliveryId = (d: { eventId: string; listener: string }) => `${d.eventId}:${d.listener}`;

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
  private readonly inFlight = new Map<string, { delivery: ClaimedDelivery; done: Promise<void> }>();
  private running = false;
  private loop?: Promise<void>;
  private heartbeat?: NodeJS.Timeout;
  /** The last claim filled every free slot: more work is likely waiting. */
  private backlog = false;
  /** Room promised to events being stored right now (see `reserve`). */
  private reserved = 0;
  /** Deliveries leased to this instance by the fast path, waiting for a free slot. */
  private readonly local: ClaimedDelivery[] = [];
  /** Completions written in the background, awaited on shutdown. */
  private readonly recording = new Set<Promise<unknown>>();
  /**
   * Deliveries whose listener is done but whose `done` is not written yet (it joins the next batch
   * of completions). Their leases are still renewed: a lease that lapsed before a slow write would
   * let a claim run the listener again.
   */
  private readonly completing = new Map<string, ClaimedDelivery>();

  constructor(
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    @Inject(DELIVERY_QUEUE) private readonly queue: DeliveryQueue,
    private readonly registry: AqueductListenerRegistry,
    private readonly signal: DispatchSignal,
    private readonly notifications: DeliveriesNotificationListener,
    private readonly deadAlert: DeadDeliveryAlert,
    private readonly metrics: AqueductMetrics,
  ) {}

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
    const { leaseMs } = this.options.dispatch;
    this.heartbeat = setInterval(
      () => void this.extendLeases(),
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    this.heartbeat.unref();
    this.loop = this.run();
    this.logger.log(
      `Dispatcher ${this.instanceId} started (concurrency ${this.options.dispatch.concurrency})`,
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
    const waiting = this.local.splice(0);
    await this.queue
      .release(waiting, this.instanceId)
      .catch((error) => this.logger.error(`Release failed: ${error.message}`));
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(resolve, this.options.dispatch.shutdownTimeoutMs, 'timeout').unref(),
    );
    const finished = Promise.all([...this.inFlight.values()].map((entry) => entry.done));
    if ((await Promise.race([finished, timeout])) === 'timeout') {
      const unfinished = [...this.inFlight.values()].map((entry) => entry.delivery);
      this.logger.warn(
        `Handing back ${unfinished.length} unfinished deliveries; they will run again`,
      );
      await this.queue
        .release(unfinished, this.instanceId)
        .catch((error) => this.logger.error(`Release failed: ${error.message}`));
    }
    await Promise.all(this.recording);
    clearInterval(this.heartbeat);
  }

  private track(write: Promise<unknown>): void {
    this.recording.add(write);
    void write.finally(() => this.recording.delete(write));
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
    const { concurrency, leaseMs, localBacklogPerSlot } = this.options.dispatch;
    const outstanding = this.inFlight.size + this.local.length + this.reserved;
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
      this.local.push(...deliveries);
      this.pump();
    });
  }

  /** Starts waiting fast-path deliveries while slots are free. */
  private pump(): void {
    while (
      this.running &&
      this.local.length > 0 &&
      this.inFlight.size < this.options.dispatch.concurrency
    ) {
      this.launch(this.local.shift() as ClaimedDelivery);
    }
  }

  private async run(): Promise<void> {
    const { concurrency, leaseMs, pollIntervalMs } = this.options.dispatch;
    while (this.running) {
      // One tick first, so completions that land together are answered by one claim.
      await new Promise((resolve) => setImmediate(resolve));
      // Claim only when the fast path leaves slots free: its deliveries are already leased here.
      const free = concurrency - this.inFlight.size - this.local.length;
      if (free > 0) {
        try {
          const claimed = await this.queue.claim(
            this.instanceId,
            this.registry.names(),
            free,
            leaseMs,
          );
          this.typeObjects(claimed);
          claimed.forEach((delivery) => {
            // A lease of ours can lapse while we still hold the delivery (a heartbeat delayed on a
            // saturated pool); the claim then hands it back to us. Running it twice in one process
            // would be a duplicate the lease was meant to prevent: the holder finishes it.
            if (this.holds(delivery)) {
              this.logger.warn(
                `Lease of ${deliveryId(delivery)} lapsed while this instance held it; not running it twice`,
              );
            } else {
              this.launch(delivery);
            }
          });
          this.backlog = claimed.length === free;
          if (this.backlog) {
            continue;
          }
        } catch (error) {
          this.logger.warn(`Could not claim deliveries: ${(error as Error).message}`);
        }
      }
      await this.signal.wait(pollIntervalMs);
    }
  }

  /** Waiting in memory, running, or waiting for its `done` to be written, here. */
  private holds(delivery: ClaimedDelivery): boolean {
    const id = deliveryId(delivery);
    return (
      this.inFlight.has(id) ||
      this.completing.has(id) ||
      this.local.some((waiting) => deliveryId(waiting) === id)
    );
  }

  private launch(delivery: ClaimedDelivery): void {
    const done = this.execute(delivery).finally(() => {
      this.inFlight.delete(deliveryId(delivery));
      this.pump();
      if (this.backlog) {
        this.signal.wake();
      }
    });
    this.inFlight.set(deliveryId(delivery), { delivery, done });
  }

  private async execute(delivery: ClaimedDelivery): Promise<void> {
    const { maxAttempts, retryBaseDelayMs, retryMaxDelayMs } = this.options.dispatch;
    const listener = this.registry.get(delivery.listener);
    const started = Date.now();
    this.metrics.listenerStarted(
      delivery.listener,
      (started - new Date(delivery.receivedAt).getTime()) / 1000,
    );
    let error: unknown;
    if (delivery.attempts > maxAttempts) {
      error = new Error(
        `lease expired ${delivery.attempts - 1} times: the process running it died each time`,
      );
    } else if (listener) {
      try {
        await listener.handler(this.toEvent(delivery), this.toContext(delivery));
        this.metrics.listenerFinished(delivery.listener, 'done', (Date.now() - started) / 1000);
        // The slot is free as soon as the listener is done; the write that records it joins the
        // next batch of completions (the lease, still renewed, covers the delivery until then).
        const id = deliveryId(delivery);
        this.completing.set(id, delivery);
        this.track(
          this.queue
            .complete(delivery, this.instanceId)
            .catch((failure) =>
              this.logger.error(
                `Could not record success of ${id} (it will run again): ${failure.message}`,
              ),
            )
            .finally(() => this.completing.delete(id)),
        );
        return;
      } catch (thrown) {
        error = thrown;
      }
    }
    const dead = delivery.attempts >= maxAttempts;
    this.metrics.listenerFinished(
      delivery.listener,
      dead ? 'dead' : 'retry',
      (Date.now() - started) / 1000,
    );
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const log = printable(
      `${delivery.listener} failed on event ${delivery.eventId} (attempt ${delivery.attempts}/${maxAttempts})${dead ? ', dead-lettered' : ''}: ${message}`,
    );
    if (dead) {
      this.logger.error(log);
    } else {
      this.logger.warn(log);
    }
    await this.queue
      .fail(
        delivery,
        this.instanceId,
        message,
        retryDelayMs(delivery.attempts, retryBaseDelayMs, retryMaxDelayMs),
        dead,
      )
      .catch((failure) =>
        this.logger.error(
          `Could not record the failure (the lease will expire and retry): ${failure.message}`,
        ),
      );
    if (dead) {
      await this.deadAlert
        .raise(delivery, message)
        .catch((failure) =>
          this.logger.error(`Could not raise the dead-delivery alert: ${failure.message}`),
        );
    }
  }

  /** Builds each event's typed object once for all of its deliveries in a claim. */
  private typeObjects(claimed: ClaimedDelivery[]): void {
    const built = new Map<string, unknown>();
    for (const delivery of claimed) {
      if (!built.has(delivery.eventId)) {
        const payload = (delivery.payload ?? {}) as Record<string, unknown>;
        built.set(delivery.eventId, toEventObject(delivery.type, payload.object));
      }
      delivery.object = built.get(delivery.eventId);
    }
  }

  private toEvent(delivery: ClaimedDelivery): AqueductEvent {
    const payload = (delivery.payload ?? {}) as Record<string, unknown>;
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

  private toContext(delivery: ClaimedDelivery): AqueductListenerContext {
    return {
      deliveryId: deliveryId(delivery),
      idempotencyKey: deliveryId(delivery),
      eventId: delivery.eventId,
      listener: delivery.listener,
      attempt: delivery.attempts,
    };
  }

  private async extendLeases(): Promise<void> {
    const running = [
      ...[...this.inFlight.values()].map((entry) => entry.delivery),
      ...this.local,
      ...this.completing.values(),
    ];
    await this.queue
      .extend(running, this.instanceId, this.options.dispatch.leaseMs)
      .catch((error) => this.logger.warn(`Could not extend leases: ${error.message}`));
  }
}
