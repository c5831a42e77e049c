import type { InlineStatement } from './opening-transaction';

/** A delivery handed to this instance to run. */
export interface ClaimedDelivery {
  eventId: string;
  listener: string;
  /** Counting this run. */
  attempts: number;
  /** No run of it started before: not a retry, a replay, a redrive, nor a lease retaken or handed back. */
  firstRun: boolean;
  type: string;
  createdAt: Date | null;
  receivedAt: Date;
  payload: unknown;
  /** The typed object, when already built (shared by the event's deliveries). */
  object?: unknown;
}

/**
 * Where deliveries wait to run. Postgres by default (`PostgresDeliveryQueue`); the dispatcher only
 * talks to this interface, so a broker could carry deliveries without touching listeners.
 */
export interface DeliveryQueue {
  /** Takes up to `limit` due deliveries of these listeners, leased to `owner` for `leaseMs`. */
  claim(
    owner: string,
    listeners: string[],
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedDelivery[]>;
  complete(delivery: ClaimedDelivery, owner: string): Promise<void>;
  /**
   * The statement that writes the delivery's `done` inside its listener's own transaction, so that
   * it commits with the listener's last write (`DeliveryFinish`); absent on a queue that does not
   * live in the listeners' database.
   */
  completion?(delivery: ClaimedDelivery, owner: string): InlineStatement;
  /**
   * Schedules a retry after `retryInMs`, or dead-letters when `dead`. False when `owner` no longer
   * held it (its lease lapsed, or it was handed back): the failure is not this run's to record.
   */
  fail(
    delivery: ClaimedDelivery,
    owner: string,
    error: string,
    retryInMs: number,
    dead: boolean,
  ): Promise<boolean>;
  /** Keeps the leases of running deliveries from expiring. */
  extend(deliveries: ClaimedDelivery[], owner: string, leaseMs: number): Promise<void>;
  /** Gives back deliveries held and not finished (shutdown), to be run again at once. */
  release(deliveries: DeliveryKey[], owner: string): Promise<void>;
}

/** What names one delivery. */
export type DeliveryKey = Pick<ClaimedDelivery, 'eventId' | 'listener'>;

export const DELIVERY_QUEUE = Symbol('AQUEDUCT_DELIVERY_QUEUE');
