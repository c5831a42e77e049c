import { CronJob } from 'cron';

/**
 * A cron of the module's own (the `cron` package, as @nestjs/schedule uses; the host's scheduler is
 * the host's) whose runs never overlap: a tick that finds the previous run still going does
 * nothing. A failed run is reported and retried by the next tick.
 */
export class SingleFlightCron {
  private job?: CronJob;
  private running?: Promise<unknown>;

  constructor(
    private readonly name: string,
    private readonly work: () => Promise<unknown>,
    private readonly onError: (error: Error) => void,
  ) {}

  start(cronTime: string): void {
    this.job = CronJob.from({ cronTime, onTick: () => this.tick(), start: true, name: this.name });
  }

  /** The running cron job, once started. */
  get cronJob(): CronJob | undefined {
    return this.job;
  }

  /** No more ticks. */
  stop(): void {
    this.job?.stop();
  }

  /** Resolves once the run in progress, if any, has ended. */
  async settled(): Promise<void> {
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.running) {
      return; // the previous run is still going
    }
    this.running = this.work()
      .catch((error: Error) => this.onError(error))
      .finally(() => (this.running = undefined));
    await this.running;
  }
}
