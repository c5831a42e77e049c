import type { AqueductDispatcher } from '../dispatch/aqueduct-dispatcher.service';
import type { InternalEventRecord, StoredInternalEvent } from '../storage/aqueduct-inbox.service';
import type { ClaimedDelivery } from '../storage/delivery-queue.interface';

/**
 * The deliveries of the transitions one ledger transaction writes, leased to this instance when its
 * dispatcher has room, as the webhook's fast path does: they run here as soon as the transaction
 * commits, with no claim round trip and no wait for a slot that claimed work would queue behind.
 * Without room they are stored pending, for any instance. If the process dies first, their lease
 * lapses and any instance retakes them.
 */
export class LedgerHandoff {
  /** Room reserved in the dispatcher for this transaction's deliveries. */
  private reserved = 0;
  private readonly deliveries: ClaimedDelivery[] = [];
  /** Whether some deliveries were stored pending (the dispatchers must be woken to claim them). */
  storedPending = false;

  constructor(
    private readonly dispatcher: AqueductDispatcher,
    /** Whether this instance runs every listener of a type (not only other instances). */
    private readonly allHere: (type: string) => boolean,
  ) {}

  /** The lease to store these records' deliveries with, or none: they are pending for anyone. */
  lease(records: InternalEventRecord[]): { owner: string; leaseMs: number } | undefined {
    const count = records.reduce((sum, record) => sum + record.listeners.length, 0);
    const here = records.every((record) => this.allHere(record.type));
    const lease = here ? this.dispatcher.reserve(count) : undefined;
    if (lease) {
      this.reserved += count;
    } else if (count > 0) {
      this.storedPending = true;
    }
    return lease;
  }

  /** Notes the deliveries stored under a lease, to run them once the transaction commits. */
  stored(records: InternalEventRecord[], events: StoredInternalEvent[]): void {
    const byKey = new Map(records.map((record) => [record.dedupKey, record]));
    for (const event of events) {
      const record = byKey.get(event.dedupKey) as InternalEventRecord;
      // As a claim would read it back: the stored JSON (dates as ISO strings), not our objects.
      const payload: unknown = JSON.parse(JSON.stringify(record.payload));
      for (const listener of record.listeners) {
        this.deliveries.push({
          eventId: event.id,
          listener,
          attempts: 1,
          firstRun: true,
          type: record.type,
          createdAt: record.createdAt,
          receivedAt: event.receivedAt,
          payload,
        });
      }
    }
  }

  /** After the commit: runs them here, and gives back the room of events stored before. */
  committed(): void {
    this.dispatcher.unreserve(this.reserved - this.deliveries.length);
    if (this.deliveries.length > 0) {
      this.dispatcher.runReserved(this.deliveries);
    }
  }

  /**
   * After a rollback, or a commit whose outcome is unknown: gives the room back. Had it committed,
   * the leases lapse and any instance runs the deliveries.
   */
  abandoned(): void {
    this.dispatcher.unreserve(this.reserved);
  }
}
