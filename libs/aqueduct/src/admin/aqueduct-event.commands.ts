import { Injectable } from '@nestjs/common';
import { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import { CREATED_AT_MISSING, parseAqueductEvent } from '../events/aqueduct-event.parser';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductDeliveryStore } from '../storage/aqueduct-delivery.store';
import { AqueductEventStore } from '../storage/aqueduct-event.store';
import { isPayloadFault } from '../storage/aqueduct-inbox.service';
import type { AqueductEventStatus } from '../storage/aqueduct-storage.types';
import { AqueductEventStillInvalidError, AqueductNotFoundError } from './aqueduct-admin.errors';

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
        scheduled =
          (await this.events.accept(eventId, {
            type: parsed.type,
            createdAt: parsed.createdAt,
            body: event.body,
            warnings: warnings.length > 0 ? warnings : null,
            listeners: this.registry.namesFor(parsed.type),
          })) ?? 0;
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

  private async resolveQuarantineIfClear(): Promise<void> {
    if ((await this.events.quarantinedCount()) === 0) {
      await this.alerts.resolve('quarantine');
    }
  }
}
