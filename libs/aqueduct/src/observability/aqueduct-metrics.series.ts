/** The kinds of prom-client metric the module registers. */
export type SeriesKind = 'Counter' | 'Histogram' | 'Gauge';

/** One series: its name after `metrics.prefix`, its help, its labels and options of its kind. */
export interface SeriesDefinition {
  kind: SeriesKind;
  name: string;
  help: string;
  labelNames: string[];
  /** More prom-client options: `buckets` of a histogram, `collect` of a series read at scrape. */
  extra?: object;
}

/**
 * Access checks by source, counted here and read at scrape time: a check runs on every request
 * of a paid route, and a plain increment costs nothing next to a labelled prom-client one. One
 * count per process, as the registry's series is.
 */
export const accessCheckCounts: Record<string, number> = {};

const SECONDS_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Options of a histogram of durations in seconds. */
const IN_SECONDS = { buckets: SECONDS_BUCKETS };

/**
 * Every series, in the order they are registered (and listed by the registry). Names are in the
 * README.
 */
export const SERIES = {
  received: {
    kind: 'Counter',
    name: 'webhooks_received_total',
    help: 'Webhook requests by event type and outcome',
    labelNames: ['type', 'outcome'],
  },
  ackSeconds: {
    kind: 'Histogram',
    name: 'webhook_ack_seconds',
    help: 'Time from request to answer',
    labelNames: ['outcome'],
    extra: IN_SECONDS,
  },
  deliveries: {
    kind: 'Counter',
    name: 'deliveries_total',
    help: 'Listener runs by listener and outcome',
    labelNames: ['listener', 'outcome'],
  },
  dispatchLag: {
    kind: 'Histogram',
    name: 'dispatch_lag_seconds',
    help: 'Time from the event being stored to its listener starting',
    labelNames: ['listener'],
    extra: IN_SECONDS,
  },
  listenerSeconds: {
    kind: 'Histogram',
    name: 'listener_duration_seconds',
    help: 'Time a listener run took',
    labelNames: ['listener', 'outcome'],
    extra: IN_SECONDS,
  },
  dead: {
    kind: 'Counter',
    name: 'deliveries_dead_total',
    help: 'Deliveries dead-lettered',
    labelNames: ['listener'],
  },
  sweepSeconds: {
    kind: 'Histogram',
    name: 'expiry_sweep_duration_seconds',
    help: 'Duration of one expiry sweep',
    labelNames: [],
    extra: IN_SECONDS,
  },
  entitlements: {
    kind: 'Gauge',
    name: 'entitlements_changed_by_sweep',
    help: 'Entitlements the last sweep expired or started',
    labelNames: ['change'],
  },
  receiverGaps: {
    kind: 'Counter',
    name: 'receiver_gaps_total',
    help: 'Gaps recorded in the receiver (no instance beat for 90 s): renewal windows stretch over them',
    labelNames: [],
  },
  eventsPruned: {
    kind: 'Counter',
    name: 'events_pruned_total',
    help: 'Events deleted by retention (their deliveries went with them)',
    labelNames: [],
  },
  pruneSeconds: {
    kind: 'Histogram',
    name: 'prune_duration_seconds',
    help: 'Duration of one retention run (every batch)',
    labelNames: [],
    extra: IN_SECONDS,
  },
  unauthorized: {
    kind: 'Counter',
    name: 'webhooks_unauthorized_total',
    help: 'Webhook requests refused by reason: missing, other-scheme, bad-signature, stale-timestamp, malformed, error (401), host-refused (the app itself)',
    labelNames: ['reason'],
  },
  alertsOpen: {
    kind: 'Gauge',
    name: 'alerts_open',
    help: 'Operator alerts open (1) or not (0), by kind: verification, quarantine, endpoint, silence',
    labelNames: ['kind'],
  },
  accessChecks: {
    kind: 'Counter',
    name: 'access_checks_total',
    help: 'Access checks by where the answer came from: cache, database, stale (cache, Postgres unreachable), fallback',
    labelNames: ['source'],
    extra: {
      collect(this: { reset(): void; inc(labels: object, value: number): void }) {
        this.reset();
        for (const [source, count] of Object.entries(accessCheckCounts)) {
          this.inc({ source }, count);
        }
      },
    },
  },
  accessCacheEntries: {
    kind: 'Gauge',
    name: 'access_cache_entries',
    help: "Customers held in this instance's access cache",
    labelNames: [],
  },
} satisfies Record<string, SeriesDefinition>;
