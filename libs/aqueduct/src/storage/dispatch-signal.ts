import { Injectable } from '@nestjs/common';

/** Postgres channel on which every inbox write that created deliveries is announced. */
export const DELIVERIES_CHANNEL = 'aqueduct_deliveries';

/**
 * Wakes the dispatcher as soon as there may be work: at once after a write in this process, and
 * (through the notification listener) after a write in any other instance.
 */
@Injectable()
export class DispatchSignal {
  private waiters: (() => void)[] = [];
  /** A wake-up that came while nobody waited (the dispatcher was busy claiming) is kept for later. */
  private pending = false;

  wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    this.pending = waiters.length === 0;
    waiters.forEach((resolve) => resolve());
  }

  /** Resolves at the next `wake()` or after `timeoutMs`, whichever comes first. */
  wait(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const woken = () => {
        clearTimeout(timer);
        resolve();
      };
      // A waiter that timed out leaves: left behind, it made the next wake() (while the dispatcher
      // was busy claiming) look heard, so that wake-up waited for the poll; and each poll added one.
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter !== woken);
        resolve();
      }, timeoutMs);
      this.waiters.push(woken);
    });
  }
}
