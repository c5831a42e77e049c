import type { Logger } from '@nestjs/common';

/** Reads after a failure that never settle (a stalled connection) stop blocking a new probe. */
const PROBE_MAX_WAIT_MS = 10_000;

/**
 * Whether Postgres answers the cache's reads. Once one has failed, no read waits for Postgres for
 * `retryMs`, and then only one at a time (the probe) tries it, until one succeeds.
 */
export class AccessReadReachability {
  private unreachableSinceMs: number | null = null;
  private retryAt = 0;
  private probe: { started: number; settled: boolean } | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly retryMs: number,
  ) {}

  /** Since when (ms since the epoch) Postgres has not answered, while it has not; else null. */
  get unreachableSince(): number | null {
    return this.unreachableSinceMs;
  }

  /** Whether a read starting at `now` may go to Postgres (else it fails at once). */
  mayRead(now: number): boolean {
    return this.unreachableSinceMs === null || this.mayProbe(now);
  }

  /** Marks a read that goes to Postgres while it is unreachable as the probe, until it settles. */
  track(query: Promise<unknown>, startedAt: number): void {
    if (this.unreachableSinceMs !== null) {
      const probe = { started: startedAt, settled: false };
      this.probe = probe;
      const settle = () => (probe.settled = true);
      query.then(settle, settle);
    }
  }

  /** A read succeeded. */
  reachable(): void {
    if (this.unreachableSinceMs !== null) {
      const seconds = Math.round((Date.now() - this.unreachableSinceMs) / 1000);
      this.logger.log(`Postgres answers access reads again (after ${seconds} s)`);
      this.unreachableSinceMs = null;
      this.probe = null;
    }
  }

  /** A read failed or did not answer in time. */
  unreachable(error: Error): void {
    const now = Date.now();
    this.retryAt = now + this.retryMs;
    if (this.unreachableSinceMs === null) {
      this.unreachableSinceMs = now;
      this.logger.warn(
        `Postgres did not answer an access read (${error.message}): answering from the cache ` +
          `(stale) and access.fallback until it does`,
      );
    }
  }

  /** While Postgres is unreachable: one read at a time tries it, once `retryMs` has passed. */
  private mayProbe(now: number): boolean {
    if (now < this.retryAt) {
      return false;
    }
    const probe = this.probe;
    return !probe || probe.settled || now - probe.started > PROBE_MAX_WAIT_MS;
  }
}
