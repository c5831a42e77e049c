import type { DeliveryAttempt } from './delivery-attempt-log';

/**
 * `accepted`: delivered to its listeners. `quarantined`: authentic but not understood (not JSON,
 * not an object, refused by the DTOs of a known type), kept byte for byte with its errors and
 * delivered to no listener until it is reprocessed (after a fix) or dismissed by an operator.
 */
export type AqueductEventStatus = 'accepted' | 'quarantined' | 'dismissed';

/** One listener's work on one event: `pending` (due), `active` (leased), `done`, `dead`. */
export type AqueductDeliveryState = 'pending' | 'active' | 'done' | 'dead';

export interface StoredEvent {
  id: string;
  type: string;
  status: AqueductEventStatus;
  createdAt: Date | null;
  receivedAt: Date;
  payload: unknown;
  errors: string[] | null;
  /** What was assumed to accept it (e.g. the arrival time for a missing `createdAt`). */
  warnings: string[] | null;
  headers: Record<string, string>;
  deliveryId: string | null;
  /** The `customerId` of the event's object, when it has one. */
  customerId: string | null;
}

/** An event without its payload, for lists: who, what, when, and how its deliveries stand. */
export interface EventSummary {
  id: string;
  type: string;
  status: AqueductEventStatus;
  createdAt: Date | null;
  receivedAt: Date;
  customerId: string | null;
  /** Deliveries per state, e.g. `{ done: 2, dead: 1 }`. */
  deliveries: Partial<Record<AqueductDeliveryState, number>>;
}

/** One page of a keyset-paginated list, newest first, with the cursors of its neighbours. */
export interface EventPage<T> {
  items: T[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  older: string | null;
  /** Pass as `after` for the previous (newer) page; null on the first page. */
  newer: string | null;
}

export interface StoredDelivery {
  /** `<eventId>:<listener>` */
  id: string;
  eventId: string;
  listener: string;
  state: AqueductDeliveryState;
  attempts: number;
  runAt: Date;
  lastError: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /**
   * The last attempts, oldest first, with replay and redrive markers between runs (at most
   * ATTEMPT_LOG_LIMIT entries). `startedAt`/`finishedAt` above are those of the latest attempt only.
   */
  attemptLog: DeliveryAttempt[];
}

export interface EventFilter {
  type?: string;
  status?: AqueductEventStatus;
  /** Only events with at least one dead delivery. */
  withDeadDeliveries?: boolean;
  /** The `customerId` of the event's object. */
  customerId?: string;
  /** Received at or after. */
  since?: Date;
  /** Received strictly before. */
  until?: Date;
  /** Keyset pagination: events received strictly before this one (its id). */
  before?: string;
  /** Keyset pagination: events received strictly after this one (its id); still newest first. */
  after?: string;
  /** @default 50, at most 500 */
  limit?: number;
}

export interface DeliveryFilter {
  state?: AqueductDeliveryState;
  listener?: string;
  eventId?: string;
  since?: Date;
  limit?: number;
}

export interface DeliveryCounts {
  pending: number;
  active: number;
  done: number;
  dead: number;
  /** Dead deliveries of the listeners asked about (all, when none were named). */
  deadOfListeners: number;
  /** When the oldest runnable delivery became due; null when none is waiting. */
  oldestPendingSince: Date | null;
}

export type BacklogCounts = Omit<DeliveryCounts, 'done'> & {
  /** Events waiting to be reprocessed or dismissed. */
  quarantined: number;
};
