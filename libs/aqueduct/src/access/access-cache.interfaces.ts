/** One product's access, as a check needs it. */
export interface ProductAccess {
  /**
   * The covered spans, oldest first, as `[from, until, from, until, …]` in ms since the epoch:
   * paid and grace stretches that touch are one span. Access is a lookup of the moment asked.
   */
  spans: readonly number[];
  /**
   * The renewal windows among them (`access.settleMs` past a paid end, longer after a receiver
   * outage), as spans: there the access is only held for a renewal that may still arrive.
   */
  windows: readonly number[];
  /**
   * Where each span with a paid period ends, as `[end, last paid end, next span's start, …]`
   * (`spanEnds`): while Postgres is out of reach for longer than a gap, the windows are worked out
   * again from them, the outage counted as a gap (`heldThroughOutage`). Most customers have one
   * span and nothing after it: then only its paid end is kept (`paidEnd`), the rest being the
   * spans' (an entry stays small), and this is left out.
   */
  ends?: readonly number[];
  /** The paid end of the one span, when it is all `ends` would say. */
  paidEnd?: number;
  awaitingPayment: boolean;
  /**
   * The seats by stretch of time, as `[from, until, seats, …]`: the people the provisionings
   * covering each stretch carry, from the ledger's stored timeline (stretches already over when it
   * evaluated carry none). A moment none covers (a renewal window, a row stored before seats were)
   * counts `seats`.
   */
  seatSpans: readonly number[];
  /** People the provisionings granting access carry as the ledger last evaluated them (or, in a
   * renewal window, those still provisioned). */
  seats: number;
  /**
   * Those people, as sorted 48-bit hashes, kept only for a customer with several products: a
   * check of products granting at once counts a person in two of them once (after an upgrade,
   * during the old product's grace, its users are the new one's). They are the people as the
   * ledger last evaluated them: a check of another moment subtracts the people its products
   * share now.
   */
  people?: readonly number[];
}

/** A customer's access to each product a provisioning ever named. */
export type CustomerAccess = ReadonlyMap<string, ProductAccess>;

/** Where an answer came from. */
export type AccessLookupSource = 'cache' | 'database' | 'stale';

/** What a lookup of the cache answers: the access and where it came from, or why there is none. */
export type AccessLookup =
  | { access: CustomerAccess; source: AccessLookupSource }
  | { access: null; source: 'unavailable'; error: string };

/** What the cache knows of its own state (health, metrics, tests). */
export interface AccessCacheState {
  enabled: boolean;
  entries: number;
  maxEntries: number;
  /** `unsupported`: the migration adding the change trigger has not run: entries live `disconnectedTtlMs`. */
  notifications: 'listening' | 'disconnected' | 'unsupported' | 'off';
  database: 'reachable' | 'unreachable';
  /** Since when Postgres has not answered the cache, while it has not. */
  unreachableSince: Date | null;
}
