import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { CronJob } from 'cron';
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
  private job?: CronJob;
  private running?: Promise<unknown>;

  constructor(
    private readonly commands: AqueductEventCommands,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.retention.enabled) {
      return;
    }
    // A cron of its own, like the expiry job's: the host needs no ScheduleModule, and gets none.
    this.job = CronJob.from({
      cronTime: this.options.retention.cron,
      onTick: () => this.tick(),
      start: true,
      name: RETENTION_JOB,
    });
  }

  /** Stops the cron, and a run between two batches: the batch in flight commits first. */
  async beforeApplicationShutdown(): Promise<void> {
    this.job?.stop();
    this.stopping.abort();
    await this.running;
  }

  /** The running cron job, when this instance runs the job. */
  get cronJob(): CronJob | undefined {
    return this.job;
  }

  /** One run with the configured `retention` options; logs what it deleted (counts only). */
  async run(): Promise<PruneResult> {
    const { olderThanDays, batchSize, includeQuarantined, includeDead } = this.options.retention;
    const startedAt = Date.now();
    const result = await this.commands.prune({
      olderThanMs: olderThanDays * DAY_MS,
      batchSize,
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

  private async tick(): Promise<void> {
    if (this.running) {
      return; // the previous run is still deleting
    }
    this.running = this.run()
      .catch((error) =>
        this.logger.error(`Prune failed (next tick retries): ${(error as Error).message}`),
      )
      .finally(() => (this.running = undefined));
    await this.running;
  }
}
