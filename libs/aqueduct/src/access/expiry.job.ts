import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { CronJob } from 'cron';
import { SingleFlightCron } from '../utils/single-flight-cron';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AccessEventType } from '../events/access-event-types';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import { AqueductLedger } from './aqueduct-ledger.service';

/** Name of the job (in logs and for hosts that list their crons). */
export const EXPIRY_JOB = 'aqueduct-expiry';

export interface SweepResult {
  /**
   * False when another instance held the sweep lock, so this one did nothing. A sweep that loses
   * the lock to another instance between two batches reports the batches it did.
   */
  ran: boolean;
  /** Customers' accesses re-evaluated because one of their moments had come. */
  evaluated: number;
  /** `access.expired` events written. */
  expired: number;
  /** `access.started` events written. */
  started: number;
  /** Every `access.*` event written, by type. */
  transitions: Record<string, number>;
  batches: number;
}

/**
 * The expiry job: a cron on every instance, one winner per tick. It re-evaluates each customer's
 * access to a product when its next moment has come (a start, a paid period's end, a grace
 * period's end, a loss that has settled), so that what time changes is announced (`access.*`
 * events) and acted on through the durable pipeline, like what Aqueduct's events change.
 */
@Injectable()
export class ExpiryJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductExpiry');
  private readonly cron = new SingleFlightCron(
    EXPIRY_JOB,
    () => this.sweep(),
    (error) => this.logger.error(`Expiry sweep failed (next tick retries): ${error.message}`),
  );

  constructor(
    private readonly ledger: AqueductLedger,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    private readonly metrics: AqueductMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.expiry.enabled) {
      return;
    }
    // A cron of its own, not the host's scheduler: the module must neither need the host to
    // register the schedule module nor register it for the host (every host cron would run twice).
    this.cron.start(this.options.expiry.cron);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.cron.stop();
    await this.cron.settled();
  }

  /** The running cron job, when this instance runs the job (to inspect its next run, say). */
  get cronJob(): CronJob | undefined {
    return this.cron.cronJob;
  }

  /**
   * One sweep: batches until nothing is due. Safe to call from any number of instances at once
   * (each batch first takes a transaction-scoped advisory lock, or stops). Catches up after
   * downtime, since it looks at everything due up to `now`.
   */
  async sweep(now: Date = this.clock.now()): Promise<SweepResult> {
    const result: SweepResult = {
      ran: false,
      evaluated: 0,
      expired: 0,
      started: 0,
      transitions: {},
      batches: 0,
    };
    const startedAt = Date.now();
    const { batchSize } = this.options.expiry;
    for (;;) {
      const batch = await this.ledger.sweepBatch(now, batchSize);
      if (!batch.won) {
        // Another instance holds the sweep and carries on from here; what this one did counts.
        break;
      }
      result.ran = true;
      result.batches++;
      result.evaluated += batch.evaluated;
      for (const { type } of batch.transitions) {
        result.transitions[type] = (result.transitions[type] ?? 0) + 1;
      }
      if (batch.evaluated < batchSize) {
        break;
      }
    }
    if (!result.ran) {
      return result;
    }
    result.expired = result.transitions[AccessEventType.Expired] ?? 0;
    result.started = result.transitions[AccessEventType.Started] ?? 0;
    this.metrics.sweep((Date.now() - startedAt) / 1000, result.expired, result.started);
    const written = Object.entries(result.transitions);
    if (written.length > 0) {
      this.logger.log(
        `Access changed for ${result.evaluated} evaluated: ${written.map(([type, n]) => `${n} ${type}`).join(', ')}`,
      );
    }
    return result;
  }
}
