import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import {
  ACCEPTED_TYPE_SQL,
  BACKLOG_SQL,
  CLAIM_SQL,
  COMPLETE_SQL,
  COMPLETE_WITHIN_SQL,
  COUNTS_SQL,
  CREATE_FOR_EVENT_SQL,
  DELIVERIES_IN_SCOPE_SQL,
  EXTEND_SQL,
  FAIL_SQL,
  LIST_SQL,
  NOTIFY_ACCEPTED_SQL,
  NOTIFY_DELIVERIES_SQL,
  REDRIVE_DEAD_SQL,
  REDRIVE_SQL,
  RELEASE_SQL,
  REPLAY_SQL,
} from './aqueduct-delivery.sql';
import type {
  BacklogCounts,
  DeliveryCounts,
  DeliveryFilter,
  StoredDelivery,
} from './aqueduct-storage.types';
import type { ClaimedDelivery, DeliveryKey, DeliveryQueue } from './delivery-queue.interface';
import { DispatchSignal } from './dispatch-signal';
import { asEventId } from './event-id';
import type { InlineStatement } from './opening-transaction';

/** A full claim slower than this suggests a plan built on stale statistics. */
const SLOW_CLAIM_MS = 10;
/** Least time between two statistics refreshes by this instance. */
const ANALYZE_INTERVAL_MS = 60_000;

/** Errors are kept for operators, bounded so a huge message cannot bloat the table. */
const MAX_ERROR_LENGTH = 2000;

interface PendingCompletion {
  delivery: ClaimedDelivery;
  owner: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The one owner of `aqueduct_deliveries` after an event is stored (the inbox writes an event's
 * first deliveries with it, in one statement): the dispatcher's queue (claim, complete, fail,
 * extend, release) and the operators' reads and restarts (list, counts, replay, redrive).
 */
@Injectable()
export class AqueductDeliveryStore implements DeliveryQueue {
  private completions: PendingCompletion[] = [];
  private lastAnalyze = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly signal: DispatchSignal,
  ) {}

  async claim(
    owner: string,
    listeners: string[],
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedDelivery[]> {
    const started = Date.now();
    // An UPDATE answers [rows, rowCount] through TypeORM.
    const [rows]: [Record<string, any>[], number] = await this.dataSource.query(CLAIM_SQL, [
      owner,
      leaseMs,
      listeners,
      limit,
    ]);
    if (rows.length === limit && Date.now() - started > SLOW_CLAIM_MS) {
      this.refreshStatistics();
    }
    return rows.map((row) => ({
      eventId: row.event_id,
      listener: row.listener,
      attempts: row.attempts,
      firstRun: row.first_run,
      type: row.type,
      createdAt: row.created_at,
      receivedAt: row.received_at,
      payload: row.payload,
    }));
  }

  /**
   * A backlog that grew faster than autovacuum looked (or with autovacuum off) leaves the planner
   * believing the queue is tiny: it then sorts every runnable row for each claim instead of
   * walking the index. Refreshing the table's statistics puts the index scan back. Best effort:
   * it needs the table's owner, as the migrations' user is.
   */
  private refreshStatistics(): void {
    if (Date.now() - this.lastAnalyze < ANALYZE_INTERVAL_MS) {
      return;
    }
    this.lastAnalyze = Date.now();
    this.dataSource.query('ANALYZE aqueduct_deliveries').catch(() => undefined);
  }

  /**
   * Writes a delivery's `done`, with those that arrive in the same turn of the event loop. Not
   * held back for the batch being written: with one write at a time, a slow commit held up every
   * completion behind it (renewal bench p99 137-177 ms against 67-69 ms).
   */
  complete(delivery: ClaimedDelivery, owner: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.completions.push({ delivery, owner, resolve, reject });
      if (this.completions.length === 1) {
        setImmediate(() => void this.flushCompletions());
      }
    });
  }

  completion(delivery: ClaimedDelivery, owner: string): InlineStatement {
    return { text: COMPLETE_WITHIN_SQL, values: [delivery.eventId, delivery.listener, owner] };
  }

  private async flushCompletions(): Promise<void> {
    const batch = this.completions;
    this.completions = [];
    const byOwner = new Map<string, PendingCompletion[]>();
    for (const completion of batch) {
      const ofOwner = byOwner.get(completion.owner);
      if (ofOwner) {
        ofOwner.push(completion);
      } else {
        byOwner.set(completion.owner, [completion]);
      }
    }
    for (const [owner, completions] of byOwner) {
      try {
        await this.dataSource.query(COMPLETE_SQL, [
          ...keys(completions.map((c) => c.delivery)),
          owner,
        ]);
        completions.forEach((c) => c.resolve());
      } catch (error) {
        completions.forEach((c) => c.reject(error));
      }
    }
  }

  async fail(
    delivery: ClaimedDelivery,
    owner: string,
    error: string,
    retryInMs: number,
    dead: boolean,
  ): Promise<boolean> {
    // An UPDATE answers [rows, rowCount] through TypeORM.
    const [, count]: [unknown[], number] = await this.dataSource.query(FAIL_SQL, [
      delivery.eventId,
      delivery.listener,
      owner,
      error.slice(0, MAX_ERROR_LENGTH),
      dead,
      dead ? 0 : retryInMs,
    ]);
    return count > 0;
  }

  async extend(deliveries: ClaimedDelivery[], owner: string, leaseMs: number): Promise<void> {
    if (deliveries.length > 0) {
      await this.dataSource.query(EXTEND_SQL, [...keys(deliveries), owner, leaseMs]);
    }
  }

  async release(deliveries: DeliveryKey[], owner: string): Promise<void> {
    if (deliveries.length > 0) {
      await this.dataSource.query(RELEASE_SQL, [...keys(deliveries), owner]);
    }
  }

  list(filter: DeliveryFilter, limit: number): Promise<StoredDelivery[]> {
    const { state, listener, eventId, since } = filter;
    return this.dataSource.query(LIST_SQL, [
      state ?? null,
      listener ?? null,
      eventId ?? null,
      since ?? null,
      limit,
    ]);
  }

  /** Starts the event's deliveries over (and creates those of `listeners` it lacks). */
  async replay(eventId: string, listeners: string[]): Promise<number> {
    const rows = await this.dataSource.query(REPLAY_SQL, [eventId, listeners]);
    await this.announce();
    return rows.length;
  }

  /** A dead or done delivery back to pending; false when there is none. */
  async redrive(eventId: string, listener: string): Promise<boolean> {
    const [, count] = await this.dataSource.query(REDRIVE_SQL, [asEventId(eventId), listener]);
    await this.announce();
    return count > 0;
  }

  /** Every dead delivery (of one listener) back to pending. Returns how many. */
  async redriveDead(listener?: string): Promise<number> {
    const [, count] = await this.dataSource.query(REDRIVE_DEAD_SQL, [listener ?? null]);
    await this.announce();
    return count;
  }

  /**
   * In the caller's transaction: the deliveries of an event accepted after it was stored, for
   * `listeners`; and, at commit, a notification that makes every dispatching instance create
   * those of its own listeners (`createMissing`): a CLI knows only the built-in ones.
   */
  async createForEvent(
    manager: EntityManager,
    eventId: string,
    listeners: string[],
  ): Promise<number> {
    const created = await manager.query(CREATE_FOR_EVENT_SQL, [eventId, listeners]);
    await manager.query(NOTIFY_ACCEPTED_SQL, [eventId]);
    return created.length;
  }

  /** The deliveries an accepted event lacks for this instance's listeners (`namesFor` its type). */
  async createMissing(eventId: string, namesFor: (type: string) => string[]): Promise<number> {
    const [event]: { type: string }[] = await this.dataSource.query(ACCEPTED_TYPE_SQL, [
      asEventId(eventId),
    ]);
    const listeners = event ? namesFor(event.type) : [];
    if (listeners.length === 0) {
      return 0;
    }
    const created = await this.dataSource.query(CREATE_FOR_EVENT_SQL, [eventId, listeners]);
    if (created.length > 0) {
      this.signal.wake();
    }
    return created.length;
  }

  /** `oldestPendingSince` and `deadOfListeners` among `listeners`' deliveries only, when given. */
  async counts(listeners?: string[]): Promise<DeliveryCounts> {
    const [row] = await this.dataSource.query(COUNTS_SQL, [listeners ?? null]);
    return row;
  }

  /** `oldestPendingSince` and `deadOfListeners` among `listeners`' deliveries only, when given. */
  async backlog(listeners?: string[]): Promise<BacklogCounts> {
    const [row] = await this.dataSource.query(BACKLOG_SQL, [listeners ?? null]);
    return row;
  }

  /** Deliveries (id and state) of every event, of one event, or of one customer's events. */
  inScope(scope: { eventId: string | null; customerId: string | null }) {
    return this.dataSource.query(DELIVERIES_IN_SCOPE_SQL, [
      scope.eventId,
      scope.customerId,
    ]) as Promise<{ id: string; state: string }[]>;
  }

  /** Wakes this instance's dispatcher and, through NOTIFY, every other one. */
  async announce(): Promise<void> {
    this.signal.wake();
    await this.dataSource.query(NOTIFY_DELIVERIES_SQL);
  }
}

function keys(deliveries: DeliveryKey[]): [string[], string[]] {
  return [deliveries.map((d) => d.eventId), deliveries.map((d) => d.listener)];
}
