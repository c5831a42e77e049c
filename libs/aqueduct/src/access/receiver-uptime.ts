import { performance } from 'node:perf_hooks';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import { AQUEDUCT_ATTEMPTS_MS, RETRY_SLACK_MS } from '../events/aqueduct-retries';
import { beat, readUptime, type UptimeRecord } from './receiver-uptime.sql';
import { NO_GAPS, RenewalWindow } from './renewal-window';
import { withTimeout } from '../utils/with-timeout';

/** How often an instance that receives writes its heartbeat. */
export const HEARTBEAT_MS = 30_000;
/**
 * How long without any instance's beat counts as a gap: three beats missed. Shorter refusals (a
 * restart, a blip) go unrecorded; `settleMs` covers them.
 */
export const GAP_AFTER_MS = 3 * HEARTBEAT_MS;
/** How long a gap is kept: past Aqueduct's last attempt after it, it stretches no window. */
const GAPS_KEPT_MS = AQUEDUCT_ATTEMPTS_MS.at(-1)! + RETRY_SLACK_MS + 24 * 3_600_000;
/** A view older than this is read again before a loss is announced with it. */
const FRESH_MS = 2 * HEARTBEAT_MS;

/**
 * The receiver's record of when it was down, and the renewal windows it gives (`RenewalWindow`).
 *
 * Every instance that serves HTTP beats every `HEARTBEAT_MS`: one statement moves the shared
 * heartbeat and, when no instance had beaten for `GAP_AFTER_MS`, records the time between as a gap
 * (all instances down, or Postgres refusing: Aqueduct's deliveries got errors then). How long it
 * was is measured by real clocks only: Postgres's between two beats, and an instance that stayed up
 * and beating throughout (by its own monotonic clock) vouches for the time since its last beat. So
 * the module's clock moving (a test clock, a corrected system clock) records nothing; it only
 * places the gap on the timeline the windows are computed on. An instance that does not receive
 * (the CLI, a worker process) only reads the record, and counts the time since the newest beat as a
 * gap while no receiver beats.
 *
 * A loss is announced only with a view confirmed within `FRESH_MS` (`confirmed`): after an outage,
 * the beat that records it comes before any loss the outage should hold back.
 */
@Injectable()
export class ReceiverUptime implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductAccess');
  private readonly settleMs: number;
  private window: RenewalWindow;
  /** When this instance last beat (or read) with success: by `performance.now()`. */
  private confirmedAt: number | null = null;
  /** The same moment by the module's clock (ms). */
  private confirmedAtClock: number | null = null;
  /** A beat failed since: the next one cannot vouch for the time between. */
  private broken = false;
  /** The newest beat any receiver wrote (ms, the module's clock), as last read. */
  private seenAt: number | null = null;
  /** How long before the last read (by Postgres's clock) that beat was. */
  private sinceMs: number | null = null;
  private running: Promise<void> | null = null;
  private timer?: NodeJS.Timeout;
  private readonly changeListeners = new Set<() => void>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    @Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    this.settleMs = options.access.settleMs;
    this.window = new RenewalWindow(this.settleMs);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh().catch((error: Error) =>
      this.logger.warn(`Could not record the receiver's heartbeat (retried): ${error.message}`),
    );
    this.timer = setInterval(() => {
      this.refresh().catch(() => undefined); // the next beat, or `confirmed`, retries
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /**
   * Whether Aqueduct can reach this instance: an application context (the CLI, a worker) has no
   * HTTP adapter. Read when used: the adapter is set after providers are built, and a ledger write
   * at start-up (a delivery picked up) may come before this provider's own bootstrap.
   */
  private get receiving(): boolean {
    return Boolean(this.adapterHost?.httpAdapter);
  }

  /** The renewal windows as far as the recorded gaps go: what access checks follow. */
  known(): RenewalWindow {
    return this.window;
  }

  /**
   * While this instance cannot reach Postgres (its last beat failed) and has not for longer than a
   * gap takes: the renewal windows with the outage so far counted as a gap, for answers from
   * memory. Null otherwise.
   */
  duringOutage(): RenewalWindow | null {
    const since = this.confirmedAtClock;
    const now = this.clock.now().getTime();
    if (!this.broken || since === null || now - since <= GAP_AFTER_MS) {
      return null;
    }
    return new RenewalWindow(this.settleMs, [...this.window.gaps, since, now]);
  }

  /**
   * The renewal windows to announce losses at `now` with: the record read within `FRESH_MS` (read
   * first otherwise; a failure throws, and the caller retries), with, on an instance that does not
   * receive, the time since the newest beat as a gap while no receiver beats.
   */
  async confirmed(now: Date): Promise<RenewalWindow> {
    if (
      this.confirmedAt === null ||
      this.broken ||
      performance.now() - this.confirmedAt > FRESH_MS
    ) {
      await this.refresh();
    }
    const seenAt = this.seenAt;
    const silentMs = (this.sinceMs ?? 0) + (performance.now() - (this.confirmedAt ?? 0));
    if (this.receiving || seenAt === null || silentMs <= GAP_AFTER_MS || seenAt >= now.getTime()) {
      return this.window;
    }
    return new RenewalWindow(this.settleMs, [...this.window.gaps, seenAt, now.getTime()]);
  }

  /** Calls `listener` whenever the recorded gaps change (the access cache drops its windows). */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * Beats now (reads, on an instance that does not receive), as the timer does every
   * `HEARTBEAT_MS`. One at a time; callers arriving meanwhile share it.
   */
  refresh(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = null));
    return this.running;
  }

  private async run(): Promise<void> {
    const now = this.clock.now();
    const started = performance.now();
    const vouched =
      this.confirmedAt !== null && !this.broken && started - this.confirmedAt <= GAP_AFTER_MS;
    const keptSince = new Date(now.getTime() - GAPS_KEPT_MS);
    let record: UptimeRecord;
    try {
      // Bounded: in a partition a query can hang for minutes, and the outage must show meanwhile.
      record = await withTimeout(
        this.receiving
          ? beat(this.dataSource, now, vouched, GAP_AFTER_MS, keptSince)
          : readUptime(this.dataSource),
        HEARTBEAT_MS,
      );
    } catch (error) {
      this.broken = true;
      throw error;
    }
    this.broken = false;
    this.confirmedAt = started;
    this.confirmedAtClock = now.getTime();
    this.seenAt = record.seenAt;
    this.sinceMs = record.sinceMs;
    if (record.recorded) {
      const [from, until] = record.recorded.map((t) => new Date(t).toISOString());
      this.logger.warn(
        `No instance received from ${from} to ${until} (down, or Postgres unreachable): renewal windows ` +
          `stretch over the Aqueduct retries that fell in it`,
      );
    }
    this.setGaps(record.gaps);
  }

  private setGaps(gaps: number[]): void {
    const current = this.window.gaps;
    if (gaps.length === current.length && gaps.every((t, i) => t === current[i])) {
      return;
    }
    this.window = new RenewalWindow(this.settleMs, gaps.length === 0 ? NO_GAPS : gaps);
    for (const listener of this.changeListeners) {
      listener();
    }
  }
}
