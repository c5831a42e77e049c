import type { Logger } from '@nestjs/common';
import type { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import type { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import type { ClaimedDelivery, DeliveryQueue } from '../storage/delivery-queue.interface';
import { retryDelayMs } from '../utils/backoff';
import { printable } from '../utils/printable';
import { withTimeout } from '../utils/with-timeout';
import { toListenerContext, toListenerEvent } from './claimed-delivery.mapper';
import type { CompletionRecorder } from './completion.recorder';
import type { DeadDeliveryAlert } from './dead-delivery.alert';
import { DeliveryFinish, withFinish } from './delivery.finish';

/**
 * A thrown value as text, whatever a listener threw: an Error, a string, a parsed error body with
 * no prototype (`String()` throws for it, and an unhandled rejection would end the process).
 */
export function describeThrown(error: unknown): string {
  try {
    if (error instanceof Error) {
      return `${error.name}: ${error.message}`;
    }
    if (typeof error === 'object' && error !== null) {
      return JSON.stringify(error) ?? Object.prototype.toString.call(error);
    }
    return String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
}

/** Seconds since `started` (a `Date.now()`), for the metrics. */
const secondsSince = (started: number) => (Date.now() - started) / 1000;

/**
 * Runs one delivery's listener, outside any transaction, then records the outcome: success (in the
 * background, see `CompletionRecorder`, unless the listener committed it with its own work, see
 * `DeliveryFinish`), a retry after a backoff, or a dead letter and its alert.
 */
export class ListenerRunner {
  constructor(
    private readonly dispatch: ResolvedAqueductOptions['dispatch'],
    private readonly queue: DeliveryQueue,
    private readonly owner: string,
    private readonly registry: AqueductListenerRegistry,
    private readonly completions: CompletionRecorder,
    private readonly deadAlert: DeadDeliveryAlert,
    private readonly metrics: AqueductMetrics,
    private readonly logger: Logger,
  ) {}

  async run(delivery: ClaimedDelivery): Promise<void> {
    const listener = this.registry.get(delivery.listener);
    const started = Date.now();
    this.metrics.listenerStarted(
      delivery.listener,
      (started - new Date(delivery.receivedAt).getTime()) / 1000,
    );
    let error: unknown;
    if (delivery.attempts > this.dispatch.maxAttempts) {
      error = new Error(
        `lease expired ${delivery.attempts - 1} times: the process running it died each time`,
      );
    } else if (listener) {
      const finish = this.queue.completion
        ? new DeliveryFinish(() => this.queue.completion!(delivery, this.owner))
        : undefined;
      try {
        await withTimeout(
          Promise.resolve().then(() =>
            listener.handler(
              toListenerEvent(delivery),
              withFinish(toListenerContext(delivery), finish),
            ),
          ),
          this.dispatch.listenerTimeoutMs,
          `did not finish within ${this.dispatch.listenerTimeoutMs} ms (dispatch.listenerTimeoutMs)`,
        );
        this.metrics.listenerFinished(delivery.listener, 'done', secondsSince(started));
        // The slot is free as soon as the listener is done; unless the listener committed the
        // `done` with its work, the write that records it joins the next batch of completions (the
        // lease, still renewed, covers the delivery until then).
        if (!finish?.written) {
          this.completions.record(delivery);
        }
        return;
      } catch (thrown) {
        error = thrown;
      }
    }
    await this.fail(delivery, error, started);
  }

  /** Logs a failed run and schedules its retry, or dead-letters it after the last attempt. */
  private async fail(delivery: ClaimedDelivery, error: unknown, started: number): Promise<void> {
    const { maxAttempts, retryBaseDelayMs, retryMaxDelayMs } = this.dispatch;
    const dead = delivery.attempts >= maxAttempts;
    this.metrics.listenerFinished(
      delivery.listener,
      dead ? 'dead' : 'retry',
      secondsSince(started),
    );
    const message = describeThrown(error);
    const log = printable(
      `${delivery.listener} failed on event ${delivery.eventId} (attempt ${delivery.attempts}/${maxAttempts})${dead ? ', dead-lettered' : ''}: ${message}`,
    );
    if (dead) {
      this.logger.error(log);
    } else {
      this.logger.warn(log);
    }
    const recorded = await this.queue
      .fail(
        delivery,
        this.owner,
        message,
        retryDelayMs(delivery.attempts, retryBaseDelayMs, retryMaxDelayMs),
        dead,
      )
      .catch((failure) => {
        this.logger.error(
          `Could not record the failure (the lease will expire and retry): ${failure.message}`,
        );
        return false;
      });
    // A delivery this instance no longer held (its lease lapsed: another instance runs it) is
    // not dead: no alert about it.
    if (dead && recorded) {
      await this.deadAlert
        .raise(delivery, message)
        .catch((failure) =>
          this.logger.error(`Could not raise the dead-delivery alert: ${failure.message}`),
        );
    }
  }
}
