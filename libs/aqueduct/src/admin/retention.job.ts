import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { CronJob } from 'cron';
import { SingleFlightCron } from '../utils/single-flight-cron';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { DAY_MS } from '../utils/duration';
import { AqueductEventCommands } from './aqueduct-event.commands';
import type { PruneResult } from './aqueduct-prune.interfaces';

/** Name of the job (in logs and for hosts that list their crons). */
export const RETENTION_JOB = 'aqueduct-retention';

/**
 * The retention job (`retention.enabled`, off by default): a cron on every instance that deletes
 * old events through `AqueductEventCommands.prune`, the path `events prune` takes too. Each batch
 * takes an advisory lock, so instances do not delete side by side.
 */
@Injectable()
export class PruneJob implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductRetention');
  private readonly stopping = new AbortController();
  private readonly cron = new SingleFlightCron(
    RETENTION_JOB,
    () => this.run(),
    (error) => this.logger.error(`Prune failed (next tick retries): ${error.message}`),
  );

  constructor(
    private readonly commands: AqueductEventCommands,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.retention.enabled) {
      return;
    }
    this.cron.start(this.options.retention.cron);
  }

  /** Stops the cron, and a run between two batches: the batch in flight commits first. */
  async beforeApplicationShutdown(): Promise<void> {
    this.cron.stop();
    this.stopping.abort();
    await this.cron.settled();
  }

  /** The running cron job, when this instance runs the job. */
  get cronJob(): CronJob | undefined {
    return this.cron.cronJob;
  }

  /** One run with the configured `retention` options; logs what it deleted (counts only). */
  async run(): Promise<PruneResult> {
    const { olderThanDays, batchSize, pauseRatio, includeQuarantined, includeDead } =
      this.options.retention;
    const startedAt = Date.now();
    const result = await this.commands.prune({
      olderThanMs: olderThanDays * DAY_MS,
      batchSize,
      pauseRatio,
      includeQuarantined,
      includeDead,
      signal: this.stopping.signal,
    });
    const cutoff = result.cutoff.toISOString();
    this.logger.log(
      result.ran
        ? `Pruned ${result.events} events (${result.deliveries} deliveries) received before ` +
            `${cutoff} in ${result.batches} batches, ${Date.now() - startedAt} ms`
        : 'Prune skipped: another instance is pruning, or this one is stopping',
    );
    return result;
  }
}
