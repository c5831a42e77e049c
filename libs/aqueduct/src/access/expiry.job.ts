import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { InjectDataSource } from '@nestjs/typeorm';
import { CronJob } from 'cron';
import { DataSource } from 'typeorm';
import { DELIVERIES_CHANNEL, DispatchSignal } from '../dispatch/dispatch-signal';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.validator';
import { AccessEventType } from './access-event-types';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import { statusAtSql } from './entitlement-status';

/** Name of the job in the SchedulerRegistry. */
export const EXPIRY_JOB = 'aqueduct-expiry';
/** Advisory lock key: one instance sweeps at a time. */
const SWEEP_LOCK = 7_310_420_002;

/**
 * Moves due entitlements on (scheduled → active at their start, active/grace → expired after
 * `access_until`) and, in the same transaction, writes one `access.started` / `access.expired`
 * event per entitlement into the inbox with its deliveries, so de-provisioning and emails go
 * through the durable pipeline. Only due rows are read, through the partial index.
 */
const SWEEP_SQL = `
WITH locked AS (SELECT pg_try_advisory_xact_lock(${SWEEP_LOCK}) AS won),
due AS (
  SELECT e.id FROM aqueduct_entitlements e, locked
   WHERE locked.won AND e.next_transition_at <= $1
   ORDER BY e.next_transition_at
   LIMIT $2
     FOR UPDATE OF e SKIP LOCKED
),
moved AS (
  UPDATE aqueduct_entitlements e
     SET status = ${statusAtSql('$1::timestamptz')},
         next_transition_at = CASE WHEN $1 < e.start_date THEN e.start_date
                                   WHEN $1 < e.access_until THEN e.access_until END,
         expired_at = CASE WHEN $1 >= e.access_until THEN $1::timestamptz END,
         updated_at = now()
    FROM due WHERE e.id = due.id
  RETURNING e.*
),
events AS (
  INSERT INTO aqueduct_events (dedup_key, type, created_at, payload, status)
  SELECT 'access:' || m.id || ':' || t.type || ':' || extract(epoch FROM m.access_until)::bigint || ':' || extract(epoch FROM m.start_date)::bigint,
         t.type, $1,
         jsonb_build_object('type', t.type, 'createdAt', $1::timestamptz, 'object', jsonb_build_object(
           'entitlementId', m.id, 'customerId', m.customer_id, 'productId', m.product_id,
           'subscriptionId', m.subscription_id, 'invoiceId', m.invoice_id, 'status', m.status,
           'startDate', m.start_date, 'endDate', m.end_date, 'gracePeriodEndDate', m.grace_period_end_date,
           'accessUntil', m.access_until, 'provisioningOrgs', m.orgs)),
         'accepted'
    FROM moved m
    CROSS JOIN LATERAL (SELECT CASE WHEN m.status = 'expired' THEN '${AccessEventType.Expired}' ELSE '${AccessEventType.Started}' END AS type) t
   WHERE m.status <> 'scheduled'
  ON CONFLICT (dedup_key) DO NOTHING
  RETURNING id, type
),
deliveries AS (
  INSERT INTO aqueduct_deliveries (event_id, listener)
  SELECT ev.id, l.name FROM events ev
   CROSS JOIN LATERAL unnest(CASE WHEN ev.type = '${AccessEventType.Expired}' THEN $3::text[] ELSE $4::text[] END) AS l(name)
  RETURNING 1
)
SELECT (SELECT won FROM locked) AS won,
       (SELECT count(*) FROM moved)::int AS moved,
       (SELECT count(*) FROM events WHERE type = '${AccessEventType.Expired}')::int AS expired,
       (SELECT count(*) FROM events WHERE type = '${AccessEventType.Started}')::int AS started,
       (SELECT pg_notify('${DELIVERIES_CHANNEL}', '') FROM (SELECT 1 FROM deliveries LIMIT 1) AS any_delivery) AS notified`;

export interface SweepResult {
  /** False when another instance held the sweep lock, so this one did nothing. */
  ran: boolean;
  expired: number;
  started: number;
  batches: number;
}

/** The grace-period expiry job: a cron on every instance, one winner per tick. */
@Injectable()
export class ExpiryJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductExpiry');
  private job?: CronJob;
  private running?: Promise<unknown>;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    private readonly listeners: AqueductListenerRegistry,
    private readonly signal: DispatchSignal,
    private readonly scheduler: SchedulerRegistry,
    private readonly metrics: AqueductMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.expiry.enabled) {
      return;
    }
    this.job = CronJob.from({
      cronTime: this.options.expiry.cron,
      onTick: () => this.tick(),
      start: true,
    });
    this.scheduler.addCronJob(EXPIRY_JOB, this.job);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.job?.stop();
    // @nestjs/schedule may have closed it already (its own shutdown hook removes every cron job).
    if (this.job && this.scheduler.doesExist('cron', EXPIRY_JOB)) {
      this.scheduler.deleteCronJob(EXPIRY_JOB);
    }
    await this.running;
  }

  /**
   * One sweep: batches until nothing is due. Safe to call from any number of instances at once
   * (each batch first takes a transaction-scoped advisory lock, or stops). Catches up after
   * downtime, since it looks at everything due up to `now`.
   */
  async sweep(now: Date = this.clock.now()): Promise<SweepResult> {
    const result: SweepResult = { ran: false, expired: 0, started: 0, batches: 0 };
    const startedAt = Date.now();
    const { batchSize } = this.options.expiry;
    for (;;) {
      const [row] = await this.dataSource.query(SWEEP_SQL, [
        now,
        batchSize,
        this.listeners.namesFor(AccessEventType.Expired),
        this.listeners.namesFor(AccessEventType.Started),
      ]);
      if (!row.won) {
        return result;
      }
      result.ran = true;
      result.batches++;
      result.expired += row.expired;
      result.started += row.started;
      if (row.moved < batchSize) {
        break;
      }
    }
    this.metrics.sweep((Date.now() - startedAt) / 1000, result.expired, result.started);
    if (result.expired + result.started > 0) {
      this.signal.wake();
      this.logger.log(`Expired ${result.expired} and started ${result.started} entitlement(s)`);
    }
    return result;
  }

  private async tick(): Promise<void> {
    if (this.running) {
      return; // the previous tick is still sweeping
    }
    this.running = this.sweep()
      .catch((error) =>
        this.logger.error(`Expiry sweep failed (next tick retries): ${(error as Error).message}`),
      )
      .finally(() => (this.running = undefined));
    await this.running;
  }
}
