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
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
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
/** Every moment a gap: what `holdingEveryLoss` counts. */
const EVERYTHING_DOWN: readonly number[] = Object.freeze([
  Number.NEGATIVE_INFINITY,
  Number.POSITIVE_INFINITY,
]);
/** How long shutting down waits for the last beat. */
const LAST_BEAT_TIMEOUT_MS = 1000;
/** A view older than this is read again before a loss is announced with it. */
const FRESH_MS = 2 * HEARTBEAT_MS;
/** How long a beat (or read) may take before it counts as failed. */
const BEAT_TIMEOUT_MS = 10_000;
/** How long `confirmed` waits for the record it must read again. */
const CONFIRM_TIMEOUT_MS = 5_000;
/**
 * A process that only reads and found the receivers silent reads again before announcing a loss,
 * when its read is older than this: the silence it measured must be the silence now.
 */
const RECHECK_SILENCE_MS = 1_000;

/**
 * The receiver's record of when it was down, and the renewal windows it gives (`RenewalWindow`).
 *
 * Every instance that serves HTTP beats every `HEARTBEAT_MS`: one statement moves the shared
 * heartbeat and, when no instance had beaten for `GAP_AFTER_MS` (all were down, or Postgres refused
 * them: Aqueduct's deliveries got errors then), records the time between as a gap. How long is
 * measured by Postgres's clock only, so the module's clock moving (a test clock, a corrected system
 * clock) records nothing; the module's clock only places the gap on the timeline the windows are
 * computed on. An instance that does not receive (the CLI, a worker process) only reads the record.
 *
 * An outage still going on is counted too, from the last beat to now (`known`): on a receiver whose
 * beats have failed for longer than a gap, and on a reader that found no receiver beating. A loss is
 * announced only with the record read within `FRESH_MS` (`confirmed`): after an outage, the beat
 * that records it comes before any loss the outage should hold back.
 */
@Injectable()
export class ReceiverUptime implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductAccess');
  private readonly settleMs: number;
  /** The renewal windows with the recorded gaps. */
  private window: RenewalWindow;
  /** When this instance last beat (or read) with success: by `performance.now()`. */
  private confirmedAt: number | null = null;
  /** The same moment by the module's clock (ms). */
  private confirmedAtClock: number | null = null;
  /** The last beat (or read) failed. */
  private broken = false;
  /** As of the last read, the newest beat of any receiver (ms, the module's clock). */
  private seenAt: number | null = null;
  /** How long before the last read, by Postgres's clock, that beat was (ms). */
  private sinceMs: number | null = null;
  private running: Promise<void> | null = null;
  /** The statements of the last beat, while Postgres has not answered them (never two at once). */
  private inFlight: Promise<unknown> | null = null;
  private timer?: NodeJS.Timeout;
  private readonly changeListeners = new Set<() => void>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    @Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions,
    private readonly metrics: AqueductMetrics,
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

  /**
   * Stops beating; a receiver beats a last time first (the HTTP server still answers here), so a
   * restart is measured from when it stopped, not from a beat up to 30 s before.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const bootstrapped = this.timer !== undefined;
    clearInterval(this.timer);
    if (bootstrapped && this.receiving && !this.broken) {
      await withTimeout(this.refresh(), LAST_BEAT_TIMEOUT_MS).catch(() => undefined);
    }
  }

  /**
   * Whether Aqueduct can reach this instance: an application context (the CLI, a worker) has no
   * HTTP adapter. Read when used: the adapter is set after providers are built, and a ledger write
   * at start-up (a delivery picked up) may come before this provider's own bootstrap.
   */
  private get receiving(): boolean {
    return Boolean(this.adapterHost?.httpAdapter);
  }

  /**
   * The renewal windows as far as this instance knows the receiver's gaps, an outage still going on
   * included: what access checks follow.
   */
  known(): RenewalWindow {
    return this.outage() ?? this.window;
  }

  /**
   * While an outage goes on (see the class): the renewal windows with it counted as a gap, from
   * the last beat until now. Null otherwise.
   */
  outage(now = this.clock.now().getTime()): RenewalWindow | null {
    const since = this.receiving ? this.failingSince(now) : this.silentSince();
    return since === null || since >= now
      ? null
      : new RenewalWindow(this.settleMs, [...this.window.gaps, since, now]);
  }

  /**
   * The renewal windows to announce losses at `now` with: the record read within `FRESH_MS` (read
   * first otherwise; a failure throws, and the caller retries), an outage still going on included.
   */
  async confirmed(now: Date): Promise<RenewalWindow> {
    const age = this.confirmedAt === null ? Infinity : performance.now() - this.confirmedAt;
    const uncertain = !this.receiving && this.silentSince() !== null && age > RECHECK_SILENCE_MS;
    if (this.broken || age > FRESH_MS || uncertain) {
      await withTimeout(this.refresh(), CONFIRM_TIMEOUT_MS);
    }
    return this.outage(now.getTime()) ?? this.window;
  }

  /**
   * The renewal windows to announce losses with when the record cannot be read: as if every
   * Aqueduct attempt had fallen into a gap, so no loss is announced early (gains are never held).
   */
  holdingEveryLoss(): RenewalWindow {
    return new RenewalWindow(this.settleMs, EVERYTHING_DOWN);
  }

  /**
   * Calls `listener` whenever the windows change: the recorded gaps do, or an outage ends (the
   * access cache drops the windows its entries hold).
   */
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

  /**
   * On a process that only reads: the newest receiver beat, when none has beaten for longer than a
   * gap by now (as measured at the last read, plus the time since). Null otherwise.
   */
  private silentSince(): number | null {
    if (this.seenAt === null || this.sinceMs === null || this.confirmedAt === null) {
      return null;
    }
    const silentMs = this.sinceMs + (performance.now() - this.confirmedAt);
    return silentMs > GAP_AFTER_MS ? this.seenAt : null;
  }

  /** This receiver's last beat, when its beats have failed since for longer than a gap. */
  private failingSince(now: number): number | null {
    const since = this.confirmedAtClock;
    return this.broken && since !== null && now - since > GAP_AFTER_MS ? since : null;
  }

  private async run(): Promise<void> {
    const now = this.clock.now();
    const started = performance.now();
    const keptSince = new Date(now.getTime() - GAPS_KEPT_MS);
    const hadOutage = this.outage(now.getTime()) !== null;
    let record: UptimeRecord;
    try {
      if (this.inFlight) {
        throw new Error('the last heartbeat has not returned yet');
      }
      const work = this.beatAndRead(now, keptSince);
      this.inFlight = work;
      void work.then(
        () => this.landed(work),
        () => this.landed(work),
      );
      // Bounded: in a partition a query can hang for minutes, and the outage must show meanwhile.
      record = await withTimeout(work, BEAT_TIMEOUT_MS);
    } catch (error) {
      this.broken = true;
      throw error;
    }
    this.broken = false;
    this.confirmedAt = started;
    this.confirmedAtClock = now.getTime();
    this.seenAt = record.seenAt;
    this.sinceMs = record.sinceMs;
    // Entries read during an outage hold its windows: once it is over (recorded as a gap or not,
    // when other instances beat throughout), they are read again.
    const ended = hadOutage && this.outage(now.getTime()) === null;
    if (this.setGaps(record.gaps) || ended) {
      this.changed();
    }
  }

  private landed(work: Promise<unknown>): void {
    if (this.inFlight === work) {
      this.inFlight = null;
    }
  }

  private async beatAndRead(now: Date, keptSince: Date): Promise<UptimeRecord> {
    if (this.receiving) {
      const recorded = await beat(this.dataSource, now, GAP_AFTER_MS, keptSince);
      if (recorded) {
        this.metrics.receiverGap();
        const [from, until] = recorded.map((t) => new Date(t).toISOString());
        this.logger.warn(
          `No instance received from ${from} to ${until} (down, or Postgres unreachable): renewal ` +
            `windows stretch over the Aqueduct retries that fell in it`,
        );
      }
    }
    return readUptime(this.dataSource);
  }

  /** Keeps the recorded gaps; whether they changed. */
  private setGaps(gaps: number[]): boolean {
    const current = this.window.gaps;
    if (gaps.length === current.length && gaps.every((t, i) => t === current[i])) {
      return false;
    }
    this.window = new RenewalWindow(this.settleMs, gaps.length === 0 ? NO_GAPS : gaps);
    return true;
  }

  private changed(): void {
    for (const listener of this.changeListeners) {
      listener();
    }
  }
}
