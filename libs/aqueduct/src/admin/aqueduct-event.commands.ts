import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { AQUEDUCT_CLOCK, type AqueductClock } from '../access/aqueduct-clock';
import { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import { CREATED_AT_MISSING, parseAqueductEvent } from '../events/aqueduct-event.parser';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { MAX_PAUSE_RATIO, RETENTION_DEFAULTS } from '../options/aqueduct-options.defaults';
import { AqueductDeliveryStore } from '../storage/aqueduct-delivery.store';
import { AqueductEventStore } from '../storage/aqueduct-event.store';
import { isPayloadFault } from '../storage/aqueduct-inbox.service';
import { AqueductRetentionStore, type PruneCursor } from '../storage/aqueduct-retention.store';
import type { AqueductEventStatus } from '../storage/aqueduct-storage.types';
import { AqueductEventStillInvalidError, AqueductNotFoundError } from './aqueduct-admin.errors';
import type { PruneRequest, PruneResult } from './aqueduct-prune.interfaces';

export type { PruneRequest, PruneResult } from './aqueduct-prune.interfaces';

/** What reprocessing a quarantined event did. */
export interface ReprocessResult {
  id: string;
  /** `accepted` when it now passes (its deliveries were created), else still `quarantined`. */
  status: AqueductEventStatus;
  /** The errors of the current DTOs, when it still fails them. */
  errors: string[] | null;
  /** Deliveries created by accepting it (0 when another call accepted it first). */
  scheduled?: number;
}

/**
 * The command side: what an operator does to stored events (the console's buttons, the CLI's
 * commands). Unknown events and deliveries are `AqueductNotFoundError`s.
 */
@Injectable()
export class AqueductEventCommands {
  constructor(
    private readonly events: AqueductEventStore,
    private readonly deliveries: AqueductDeliveryStore,
    private readonly registry: AqueductListenerRegistry,
    private readonly alerts: AqueductAlerts,
    private readonly retention: AqueductRetentionStore,
    private readonly metrics: AqueductMetrics,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
  ) {}

  /**
   * Runs the event's listeners again, with the same idempotency keys. Includes listeners added
   * since the event arrived (this is how older events are backfilled to a new listener). A
   * quarantined event is reprocessed first, and replayed only if it now passes. Deliveries running
   * right now are left alone. Returns how many deliveries were scheduled.
   */
  async replay(eventId: string): Promise<number> {
    const event = await this.events.statusOf(eventId);
    if (!event) {
      throw new AqueductNotFoundError(`Aqueduct event ${eventId} not found`);
    }
    if (event.status !== 'accepted') {
      // Accepting it creates its deliveries: that is the replay.
      const result = await this.reprocess(eventId);
      if (result.status !== 'accepted') {
        throw new AqueductEventStillInvalidError(eventId, result.errors ?? []);
      }
      return result.scheduled ?? 0;
    }
    return this.deliveries.replay(eventId, this.registry.namesFor(event.type));
  }

  /**
   * Parses a quarantined event's stored bytes again with today's DTOs (after an upgrade or a fix).
   * If it now passes it becomes `accepted` and gets its deliveries, exactly once however many
   * calls race; if not, it stays quarantined with the new errors. Any other event is left as is.
   */
  async reprocess(eventId: string): Promise<ReprocessResult> {
    const event = await this.events.bodyOf(eventId);
    if (!event) {
      throw new AqueductNotFoundError(`Aqueduct event ${eventId} not found`);
    }
    if (event.status !== 'quarantined') {
      return { id: eventId, status: event.status, errors: null };
    }
    const parsed = parseAqueductEvent(event.body);
    let errors = parsed.valid ? null : parsed.errors;
    let scheduled = 0;
    if (parsed.valid) {
      try {
        const warnings = parsed.warnings.map((w) =>
          w === CREATED_AT_MISSING ? `${w} (reprocessed)` : w,
        );
        const accepted = await this.events.accept(eventId, {
          type: parsed.type,
          createdAt: parsed.createdAt,
          body: event.body,
          warnings: warnings.length > 0 ? warnings : null,
          listeners: this.registry.namesFor(parsed.type),
        });
        if (accepted === null) {
          // No longer quarantined: another reprocess accepted it, or an operator dismissed it.
          const status = (await this.events.find(eventId))?.status ?? event.status;
          return {
            id: eventId,
            status,
            errors: null,
            ...(status === 'accepted' ? { scheduled: 0 } : {}),
          };
        }
        scheduled = accepted;
      } catch (error) {
        if (!isPayloadFault(error)) {
          throw error;
        }
        errors = [`body could not be stored as JSON (${(error as Error).message.slice(0, 200)})`];
      }
    }
    if (errors) {
      await this.events.setErrors(eventId, errors);
      return { id: eventId, status: 'quarantined', errors };
    }
    await this.resolveQuarantineIfClear();
    return { id: eventId, status: 'accepted', errors: null, scheduled };
  }

  /** Reprocesses every quarantined event, oldest first. */
  async reprocessQuarantined(): Promise<ReprocessResult[]> {
    const results: ReprocessResult[] = [];
    for (const id of await this.events.quarantinedIds()) {
      results.push(await this.reprocess(id));
    }
    return results;
  }

  /** Marks a quarantined event reviewed: it will not be delivered, and no longer alerts. */
  async dismiss(eventId: string): Promise<void> {
    if (!(await this.events.dismiss(eventId))) {
      throw new AqueductNotFoundError(`No quarantined event ${eventId}`);
    }
    await this.resolveQuarantineIfClear();
  }

  /** A dead (or any finished) delivery (`<eventId>:<listener>`) back to pending, with fresh attempts. */
  async redrive(deliveryId: string): Promise<void> {
    const separator = deliveryId.indexOf(':');
    const eventId = deliveryId.slice(0, separator);
    const listener = deliveryId.slice(separator + 1);
    if (separator < 0 || !(await this.deliveries.redrive(eventId, listener))) {
      throw new AqueductNotFoundError(`No dead or done delivery ${deliveryId}`);
    }
  }

  /** Every dead delivery (optionally of one listener) back to pending. Returns how many. */
  redriveDead(listener?: string): Promise<number> {
    return this.deliveries.redriveDead(listener);
  }

  /**
   * Deletes the events received more than `olderThanMs` ago whose deliveries are all done, with
   * their deliveries; never one the ledger refers to, a quarantined one or one with a dead
   * delivery unless asked. Batches until one is not full, pausing between them (`pauseRatio`), each
   * under retention's advisory lock:
   * when another instance holds it, this one stops (`ran: false` if it had not started). A dry
   * run counts instead.
   */
  async prune(request: PruneRequest): Promise<PruneResult> {
    const {
      olderThanMs,
      batchSize = RETENTION_DEFAULTS.batchSize,
      pauseRatio = RETENTION_DEFAULTS.pauseRatio,
    } = request;
    const valid = Number.isFinite(olderThanMs) && olderThanMs > 0 && Number.isInteger(batchSize);
    if (!valid || batchSize <= 0) {
      throw new RangeError('prune needs olderThanMs > 0 and a positive integer batchSize');
    }
    if (!(pauseRatio >= 0 && pauseRatio <= MAX_PAUSE_RATIO)) {
      throw new RangeError(`prune needs a pauseRatio from 0 to ${MAX_PAUSE_RATIO}`);
    }
    const cutoff = new Date(this.clock.now().getTime() - olderThanMs);
    const scope = {
      includeQuarantined: request.includeQuarantined ?? false,
      includeDead: request.includeDead ?? false,
    };
    if (request.dryRun) {
      const counts = await this.retention.countPrunable(cutoff, scope);
      return { ran: true, dryRun: true, cutoff, ...counts, batches: 0 };
    }
    const startedAt = Date.now();
    const result = { ran: false, dryRun: false, cutoff, events: 0, deliveries: 0, batches: 0 };
    let cursor: PruneCursor | undefined;
    while (!request.signal?.aborted) {
      const batchStart = Date.now();
      const batch = await this.retention.pruneBatch(cutoff, scope, batchSize, cursor);
      if (!batch.won) {
        break; // another instance is pruning (it takes over from here)
      }
      result.ran = true;
      result.batches++;
      result.events += batch.events;
      result.deliveries += batch.deliveries;
      if (batch.scanned < batchSize) {
        break; // every old event was looked at; one still needed (or locked) waits for the next run
      }
      cursor = batch.next;
      // Background work yields to the live traffic; an abort (shutdown) ends the pause at once.
      await sleep((Date.now() - batchStart) * pauseRatio, undefined, {
        signal: request.signal,
      }).catch(() => undefined);
    }
    if (result.ran) {
      this.metrics.pruned((Date.now() - startedAt) / 1000, result.events);
    }
    return result;
  }

  private async resolveQuarantineIfClear(): Promise<void> {
    if ((await this.events.quarantinedCount()) === 0) {
      await this.alerts.resolve('quarantine');
    }
  }
}
