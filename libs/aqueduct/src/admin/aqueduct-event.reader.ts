import { Injectable } from '@nestjs/common';
import { AqueductDeliveryStore } from '../storage/aqueduct-delivery.store';
import { AqueductEventStore } from '../storage/aqueduct-event.store';
import type {
  BacklogCounts,
  DeliveryCounts,
  DeliveryFilter,
  EventFilter,
  EventPage,
  EventSummary,
  StoredDelivery,
  StoredEvent,
} from '../storage/aqueduct-storage.types';
import { AqueductNotFoundError } from './aqueduct-admin.errors';

/** Longest page or list, whatever is asked. */
export const MAX_LIMIT = 500;

export const limit = (value: number | undefined): number =>
  Math.min(Math.max(1, Math.floor(value ?? 50)), MAX_LIMIT);

/** The read side: stored events and their deliveries, as the console and the CLI show them. */
@Injectable()
export class AqueductEventReader {
  constructor(
    private readonly events: AqueductEventStore,
    private readonly deliveries: AqueductDeliveryStore,
  ) {}

  /** Newest first. */
  listEvents(filter: EventFilter = {}): Promise<StoredEvent[]> {
    return this.events.list(filter, limit(filter.limit));
  }

  /**
   * A page of event summaries (no payloads), newest first. Keyset pagination over
   * (received_at, id): each page is one index range scan, as fast on the last page as the first.
   */
  async pageEvents(filter: EventFilter = {}): Promise<EventPage<EventSummary>> {
    const size = limit(filter.limit);
    const rows = await this.events.summaries(filter, size + 1);
    // One row more than asked tells whether there is a page beyond, in the direction walked.
    const more = rows.length > size;
    // Walking newer (after), the extra row is the newest one, first once reversed.
    const items = filter.after ? rows.slice(more ? 1 : 0) : rows.slice(0, size);
    const last = items[items.length - 1]?.id ?? null;
    const first = items[0]?.id ?? null;
    if (filter.after) {
      return { items, older: last ?? filter.after, newer: more ? first : null };
    }
    return {
      items,
      older: more ? last : null,
      newer: filter.before ? (first ?? filter.before) : null,
    };
  }

  /** One event with its deliveries; `AqueductNotFoundError` when there is none. */
  async getEvent(
    id: string,
  ): Promise<StoredEvent & { deliveries: StoredDelivery[]; rawBody: string | null }> {
    const event = await this.events.find(id);
    if (!event) {
      throw new AqueductNotFoundError(`Aqueduct event ${id} not found`);
    }
    return { ...event, deliveries: await this.deliveries.list({ eventId: id }, MAX_LIMIT) };
  }

  listDeliveries(filter: DeliveryFilter = {}): Promise<StoredDelivery[]> {
    return this.deliveries.list(filter, limit(filter.limit));
  }

  /**
   * With `listeners`, the oldest due delivery is looked for among theirs only. Counting the done
   * deliveries reads the whole table: for an operator's look; probes and pages read `backlog()`.
   */
  counts(listeners?: string[]): Promise<DeliveryCounts> {
    return this.deliveries.counts(listeners);
  }

  /**
   * Pending, active and dead counts only: each is read from its partial index, so this stays
   * cheap however many done deliveries the table holds (for pages shown on every request and
   * health probes). With `listeners`, `deadOfListeners` and the oldest due delivery are theirs.
   */
  backlog(listeners?: string[]): Promise<BacklogCounts> {
    return this.deliveries.backlog(listeners);
  }

  /** Quarantined events waiting (read from their partial index). */
  quarantinedCount(): Promise<number> {
    return this.events.quarantinedCount();
  }
}
