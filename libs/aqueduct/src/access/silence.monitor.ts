import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DELIVERY_DEAD_EVENT } from '../dispatch/dead-delivery.alert';
import { ACCESS_EVENT_TYPES } from '../events/access-event-types';
import { AqueductEventType } from '../events/aqueduct-event-types';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { printable } from '../utils/printable';
import { ALERT_RAISED_EVENT } from '../alerts/alert.interfaces';
import { AqueductAlerts } from '../alerts/aqueduct-alerts.service';

/** How often each instance looks for silence: the alert is about hours, not minutes. */
const SILENCE_CHECK_INTERVAL_MS = 600_000;

/**
 * An end counts as received when an event arrived up to this long before it: Aqueduct's clock may
 * run a little ahead of ours, and its end, or the renewal's start fired with it, may then arrive
 * "before" the end date.
 */
const SENDER_CLOCK_SLACK_MS = 600_000;

/** The events the module writes itself: they say nothing about Aqueduct reaching this app. */
const OWN_EVENT_TYPES: readonly string[] = [
  ...ACCESS_EVENT_TYPES,
  ALERT_RAISED_EVENT,
  DELIVERY_DEAD_EVENT,
];

// The last arrival (newest first through the (received_at, id) index, past the module's own
// events), and Postgres's now: both on the one clock that stamps arrivals. Deliveries happen in
// real time, so the module's clock (a host's test clock, say) has no say here.
const LAST_RECEIVED_SQL = `SELECT now() AS now, (SELECT received_at FROM aqueduct_events
  WHERE type <> ALL($1::text[]) ORDER BY received_at DESC, id DESC LIMIT 1) AS "lastReceivedAt"`;

// Paid periods whose end (Aqueduct fires `provisioning.end` then) is past `$2`, whose own end has
// not arrived, with nothing received since it: one read of the provisionings, made only when
// nothing arrived for `silenceAfterMs` (no index is kept for it on the ledger's write path).
const OVERDUE_ENDS_SQL = `SELECT count(*)::int AS overdue, min(end_date) AS since
  FROM aqueduct_provisionings
 WHERE end_date > $1 AND end_date <= $2 AND last_event_type <> '${AqueductEventType.ProvisioningEnd}'`;

/** What one look found. */
export interface SilenceCheckResult {
  /** Paid periods whose end passed `alerts.silenceAfterMs` ago with nothing received since. */
  overdue: number;
  /** The earliest of those ends, when there are some. */
  since: Date | null;
  /** The last event received from Aqueduct (not the module's own), if any. */
  lastReceivedAt: Date | null;
}

/**
 * Notices that Aqueduct stopped delivering, which nothing else would: once it has disabled the
 * endpoint (after 43 hours of failed retries: a proxy answering 502, an expired certificate, a
 * firewall, none of which reach this app) or can no longer reach it, nothing arrives and nothing
 * fails here; renewals then go unseen and paying customers lose access at their period's end.
 * Aqueduct fires `provisioning.end` when a paid period ends, so the ledger knows when events are
 * due: when a known period's end is `alerts.silenceAfterMs` past, its own `provisioning.end` not
 * arrived and nothing at all received since, the `silence` alert opens (health degraded, one mail
 * to `email.alertTo`). The next event received resolves it at the next look. Judged in real time,
 * on Postgres's clock, which stamps the arrivals.
 */
@Injectable()
export class SilenceMonitor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductAlerts');
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly alerts: AqueductAlerts,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.ledger || this.options.alerts.silenceAfterMs === 0) {
      return;
    }
    this.timer = setInterval(() => this.background(), SILENCE_CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Looks now: opens the `silence` alert, or resolves it, and says what it found. */
  async check(): Promise<SilenceCheckResult> {
    if (this.options.alerts.silenceAfterMs === 0) {
      return { overdue: 0, since: null, lastReceivedAt: null }; // turned off
    }
    const [{ now, lastReceivedAt }]: { now: Date; lastReceivedAt: Date | null }[] =
      await this.dataSource.query(LAST_RECEIVED_SQL, [OWN_EVENT_TYPES]);
    const dueBy = new Date(now.getTime() - this.options.alerts.silenceAfterMs);
    const heardSince = new Date((lastReceivedAt?.getTime() ?? 0) + SENDER_CLOCK_SLACK_MS);
    const { overdue, since } =
      heardSince >= dueBy
        ? { overdue: 0, since: null } // something arrived lately: nothing can be overdue
        : (
            await this.dataSource.query<{ overdue: number; since: Date | null }[]>(
              OVERDUE_ENDS_SQL,
              [heardSince, dueBy],
            )
          )[0];
    if (overdue === 0) {
      if (this.alerts.isOpen('silence')) {
        await this.alerts.resolve('silence');
      }
      return { overdue, since: null, lastReceivedAt };
    }
    const hours = Math.round(this.options.alerts.silenceAfterMs / 360_000) / 10;
    const reason =
      `Nothing has arrived from Aqueduct since ${lastReceivedAt?.toISOString() ?? 'the start'}, ` +
      `though ${overdue} paid period(s) ended more than ${hours} h ago without their provisioning.end (the first on ${since!.toISOString()}) ` +
      `and Aqueduct sends provisioning.end when one does. Aqueduct may have disabled this endpoint after ` +
      `failed deliveries, or cannot reach this app (DNS, TLS, a proxy, a firewall), or the endpoint does ` +
      `not send provisioning_end: check the endpoint in Aqueduct's dashboard and turn it back on. Aqueduct does not resend what it gave up on, so renewals ` +
      `sent meanwhile are missing: their customers lose access when their period ends.`;
    await this.alerts.raise('silence', reason, {
      overdue,
      since,
      lastReceivedAt,
      silenceAfterMs: this.options.alerts.silenceAfterMs,
    });
    return { overdue, since, lastReceivedAt };
  }

  private background(): void {
    if (this.running) {
      return;
    }
    this.running = this.check()
      .catch((error) =>
        this.logger.error(printable(`Silence check failed: ${(error as Error).message}`)),
      )
      .finally(() => (this.running = undefined));
  }
}
