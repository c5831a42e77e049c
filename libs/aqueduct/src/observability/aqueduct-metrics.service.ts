import { Inject, Injectable, Logger } from '@nestjs/common';
import { AqueductEventType, UNTYPED_EVENT } from '../events/aqueduct-event-types';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { SERIES, type SeriesDefinition, accessCheckCounts } from './aqueduct-metrics.series';

/** Outcome of one webhook request, as counted in `aqueduct_webhooks_received_total`. */
export type ReceiveOutcome =
  | 'accepted'
  | 'duplicate'
  | 'quarantined'
  | 'rejected'
  | 'unauthorized'
  | 'unavailable'
  | 'too-large'
  | 'unsupported'
  | 'unreadable';

/**
 * Types counted under their own name; any other is counted as `other`, so that a sender cannot
 * grow the series without bound (a label value is kept in memory for the life of the process).
 */
const LABELLED_TYPES = new Set([...Object.values(AqueductEventType), UNTYPED_EVENT]);

type Counter = { inc(labels: Record<string, string>, value?: number): void };
type Histogram = { observe(labels: Record<string, string>, value: number): void };
type Gauge = { set(labels: Record<string, string>, value: number): void };

/** The prom-client series of `SERIES`, each as the calls of its kind. */
type MetricSeries = {
  [Key in keyof typeof SERIES]: {
    Counter: Counter;
    Histogram: Histogram;
    Gauge: Gauge;
  }[(typeof SERIES)[Key]['kind']];
};

/** prom-client, unless metrics are turned off or it is not installed (an optional peer). */
function loadPromClient(options: ResolvedAqueductOptions): any {
  if (options.metrics?.enabled === false) {
    return undefined;
  }
  try {
    return require('prom-client');
  } catch {
    return undefined; // optional: not installed
  }
}

/** Registers a series of `SERIES` in `registry`, or returns the one registered there already. */
function seriesMaker(client: any, registry: any, prefix: string) {
  const registers = [registry];
  return (definition: SeriesDefinition): any => {
    const { kind, name, help, labelNames, extra = {} } = definition;
    const existing = registers[0].getSingleMetric(`${prefix}${name}`);
    // Several apps in one process (tests) share the global registry: reuse the series.
    return (
      existing ??
      new client[kind]({ name: `${prefix}${name}`, help, labelNames, registers, ...extra })
    );
  };
}

/**
 * Prometheus metrics through prom-client, when it is installed (an optional peer dependency);
 * without it every call is a no-op. Series are registered in `metrics.registry` (default:
 * prom-client's global registry, which `register.metrics()` serves). Names are in the README.
 */
@Injectable()
export class AqueductMetrics {
  private readonly logger = new Logger('AqueductMetrics');
  /** Every series, by its key in `SERIES`; undefined when there are no metrics. */
  private readonly series?: MetricSeries;

  constructor(@Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions) {
    const client = loadPromClient(options);
    if (!client) {
      return;
    }
    const prefix = options.metrics.prefix;
    const make = seriesMaker(client, options.metrics?.registry ?? client.register, prefix);
    const entries = Object.entries(SERIES).map(([key, definition]) => [key, make(definition)]);
    this.series = Object.fromEntries(entries) as MetricSeries;
    this.logger.log(`Prometheus metrics registered (${prefix}*)`);
  }

  /** One webhook request answered: its type (or `other`), outcome and time to answer. */
  webhook(type: string, outcome: ReceiveOutcome, seconds: number): void {
    this.series?.received.inc({ type: LABELLED_TYPES.has(type) ? type : 'other', outcome });
    this.series?.ackSeconds.observe({ outcome }, seconds);
  }

  /** A listener starting on a delivery, `lagSeconds` after its event was stored. */
  listenerStarted(listener: string, lagSeconds: number): void {
    this.series?.dispatchLag.observe({ listener }, Math.max(0, lagSeconds));
  }

  /** A listener run ended: done, to be retried, or dead-lettered. */
  listenerFinished(listener: string, outcome: 'done' | 'retry' | 'dead', seconds: number): void {
    this.series?.deliveries.inc({ listener, outcome });
    this.series?.listenerSeconds.observe({ listener, outcome }, seconds);
    if (outcome === 'dead') {
      this.series?.dead.inc({ listener });
    }
  }

  /** A webhook request refused, by reason: 401 by the module, or anything but 2xx by the host (`host-refused`). */
  webhookUnauthorized(reason: string): void {
    this.series?.unauthorized.inc({ reason });
  }

  /** An operator alert opened or resolved. */
  alert(kind: string, open: boolean): void {
    this.series?.alertsOpen.set({ kind }, open ? 1 : 0);
  }

  /** One access check answered, by where the answer came from (read at scrape time). */
  accessChecked(source: string): void {
    if (this.series) {
      accessCheckCounts[source] = (accessCheckCounts[source] ?? 0) + 1;
    }
  }

  /** Customers now held in the access cache. */
  accessCacheSize(entries: number): void {
    this.series?.accessCacheEntries.set({}, entries);
  }

  /** One expiry sweep: its duration, and the entitlements it expired and started. */
  sweep(seconds: number, expired: number, started: number): void {
    this.series?.sweepSeconds.observe({}, seconds);
    this.series?.entitlements.set({ change: 'expired' }, expired);
    this.series?.entitlements.set({ change: 'started' }, started);
  }

  /** A gap of the receiver recorded by this instance. */
  receiverGap(): void {
    this.series?.receiverGaps.inc({});
  }

  /** One retention run that held the lock: its duration, and the events it deleted. */
  pruned(seconds: number, events: number): void {
    this.series?.pruneSeconds.observe({}, seconds);
    this.series?.eventsPruned.inc({}, events);
  }
}
