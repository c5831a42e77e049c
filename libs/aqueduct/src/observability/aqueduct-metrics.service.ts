import { Inject, Injectable, Logger } from '@nestjs/common';
import { AqueductEventType, UNTYPED_EVENT } from '../events/aqueduct-event-types';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';

/** Outcome of one webhook request, as counted in `aqueduct_webhooks_received_total`. */
export type ReceiveOutcome =
  'accepted' | 'duplicate' | 'quarantined' | 'rejected' | 'unauthorized' | 'unavailable';

/**
 * Types counted under their own name; any other is counted as `other`, so that a sender cannot
 * grow the series without bound (a label value is kept in memory for the life of the process).
 */
const LABELLED_TYPES = new Set([...Object.values(AqueductEventType), UNTYPED_EVENT]);

/**
 * Access checks by source, counted here and read at scrape time: a check runs on every request
 * of a paid route, and a plain increment costs nothing next to a labelled prom-client one. One
 * count per process, as the registry's series is.
 */
const accessCheckCounts: Record<string, number> = {};

const SECONDS_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

type Counter = { inc(labels: Record<string, string>, value?: number): void };
type Histogram = { observe(labels: Record<string, string>, value: number): void };
type Gauge = { set(labels: Record<string, string>, value: number): void };

/**
 * Prometheus metrics through prom-client, when it is installed (an optional peer dependency);
 * without it every call is a no-op. Series are registered in `metrics.registry` (default:
 * prom-client's global registry, which `register.metrics()` serves). Names are in the README.
 */
@Injectable()
export class AqueductMetrics {
  private readonly logger = new Logger('AqueductMetrics');
  private received?: Counter;
  private ackSeconds?: Histogram;
  private deliveries?: Counter;
  private dispatchLag?: Histogram;
  private listenerSeconds?: Histogram;
  private dead?: Counter;
  private sweepSeconds?: Histogram;
  private entitlements?: Gauge;
  private unauthorized?: Counter;
  private alertsOpen?: Gauge;
  private accessChecks?: Counter;
  private accessCacheEntries?: Gauge;

  constructor(@Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions) {
    if (options.metrics?.enabled === false) {
      return;
    }
    let client: any;
    try {
      client = require('prom-client');
    } catch {
      return; // optional: not installed
    }
    const registers = [options.metrics?.registry ?? client.register];
    const prefix = options.metrics.prefix;
    const make = (
      Type: any,
      name: string,
      help: string,
      labelNames: string[],
      extra: object = {},
    ) => {
      const existing = registers[0].getSingleMetric(`${prefix}${name}`);
      // Several apps in one process (tests) share the global registry: reuse the series.
      return (
        existing ?? new Type({ name: `${prefix}${name}`, help, labelNames, registers, ...extra })
      );
    };
    this.received = make(
      client.Counter,
      'webhooks_received_total',
      'Webhook requests by event type and outcome',
      ['type', 'outcome'],
    );
    this.ackSeconds = make(
      client.Histogram,
      'webhook_ack_seconds',
      'Time from request to answer',
      ['outcome'],
      { buckets: SECONDS_BUCKETS },
    );
    this.deliveries = make(
      client.Counter,
      'deliveries_total',
      'Listener runs by listener and outcome',
      ['listener', 'outcome'],
    );
    this.dispatchLag = make(
      client.Histogram,
      'dispatch_lag_seconds',
      'Time from the event being stored to its listener starting',
      ['listener'],
      { buckets: SECONDS_BUCKETS },
    );
    this.listenerSeconds = make(
      client.Histogram,
      'listener_duration_seconds',
      'Time a listener run took',
      ['listener', 'outcome'],
      { buckets: SECONDS_BUCKETS },
    );
    this.dead = make(client.Counter, 'deliveries_dead_total', 'Deliveries dead-lettered', [
      'listener',
    ]);
    this.sweepSeconds = make(
      client.Histogram,
      'expiry_sweep_duration_seconds',
      'Duration of one expiry sweep',
      [],
      { buckets: SECONDS_BUCKETS },
    );
    this.entitlements = make(
      client.Gauge,
      'entitlements_changed_by_sweep',
      'Entitlements the last sweep expired or started',
      ['change'],
    );
    this.unauthorized = make(
      client.Counter,
      'webhooks_unauthorized_total',
      'Webhook requests refused (401) by reason: missing, other-scheme, bad-signature, stale-timestamp, malformed, error',
      ['reason'],
    );
    this.alertsOpen = make(
      client.Gauge,
      'alerts_open',
      'Operator alerts open (1) or not (0), by kind: verification, quarantine, endpoint',
      ['kind'],
    );
    this.accessChecks = make(
      client.Counter,
      'access_checks_total',
      'Access checks by where the answer came from: cache, database, stale (cache, Postgres unreachable), fallback',
      ['source'],
      {
        collect(this: { reset(): void; inc(labels: object, value: number): void }) {
          this.reset();
          for (const [source, count] of Object.entries(accessCheckCounts)) {
            this.inc({ source }, count);
          }
        },
      },
    );
    this.accessCacheEntries = make(
      client.Gauge,
      'access_cache_entries',
      "Customers held in this instance's access cache",
      [],
    );
    this.logger.log(`Prometheus metrics registered (${prefix}*)`);
  }

  webhook(type: string, outcome: ReceiveOutcome, seconds: number): void {
    this.received?.inc({ type: LABELLED_TYPES.has(type) ? type : 'other', outcome });
    this.ackSeconds?.observe({ outcome }, seconds);
  }

  listenerStarted(listener: string, lagSeconds: number): void {
    this.dispatchLag?.observe({ listener }, Math.max(0, lagSeconds));
  }

  listenerFinished(listener: string, outcome: 'done' | 'retry' | 'dead', seconds: number): void {
    this.deliveries?.inc({ listener, outcome });
    this.listenerSeconds?.observe({ listener, outcome }, seconds);
    if (outcome === 'dead') {
      this.dead?.inc({ listener });
    }
  }

  webhookUnauthorized(reason: string): void {
    this.unauthorized?.inc({ reason });
  }

  alert(kind: string, open: boolean): void {
    this.alertsOpen?.set({ kind }, open ? 1 : 0);
  }

  accessChecked(source: string): void {
    if (this.accessChecks) {
      accessCheckCounts[source] = (accessCheckCounts[source] ?? 0) + 1;
    }
  }

  accessCacheSize(entries: number): void {
    this.accessCacheEntries?.set({}, entries);
  }

  sweep(seconds: number, expired: number, started: number): void {
    this.sweepSeconds?.observe({}, seconds);
    this.entitlements?.set({ change: 'expired' }, expired);
    this.entitlements?.set({ change: 'started' }, started);
  }
}
