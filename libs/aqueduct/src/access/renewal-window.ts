import { AQUEDUCT_ATTEMPTS_MS, RETRY_SLACK_MS } from '../events/aqueduct-retries';

/** No gap recorded: shared, so a window without gaps costs nothing. */
export const NO_GAPS: readonly number[] = Object.freeze([]);

const DAY_MS = 86_400_000;
/**
 * A paid end at midnight (UTC) names a day rather than an instant: a date alone (`2026-01-31`,
 * read as ending at the next midnight, UTC) or a day stored as its midnight. Aqueduct fires the
 * renewal's `provisioning.start` when that day ends in its own time zone, up to 12 hours later
 * (UTC-12), so the window after such an end waits that much longer.
 */
export const DAY_END_SLACK_MS = 12 * 3_600_000;

/**
 * The longest a renewal window can last after a paid end, whatever gaps are recorded: `settleMs`,
 * or until just after Aqueduct's last attempt. Data read for windows still open reaches back this far.
 */
export function longestWindowMs(settleMs: number): number {
  return settleMs <= 0
    ? 0
    : Math.max(settleMs, AQUEDUCT_ATTEMPTS_MS.at(-1)! + RETRY_SLACK_MS) + DAY_END_SLACK_MS;
}

/**
 * How long access is held past a paid period's end for a renewal whose `provisioning.start` may
 * still be on its way. Aqueduct sends that start at the moment the paid period ends and, when it
 * is refused, again 1, 7, 19 and 43 hours later. `settleMs` covers the refusals nobody saw (a
 * deploy, a database blip: by default, until the first retry has come); on top of it, every attempt
 * that fell into a gap of the receiver (no instance reached Postgres: see `ReceiverUptime`) was
 * refused for sure, so the window lasts until the first attempt after it that found the receiver
 * up, and at most until the last one. Without a gap, the window is `settleMs` exactly, plus
 * `DAY_END_SLACK_MS` after a paid end at midnight (a day, whose end Aqueduct sees in its own zone).
 */
export class RenewalWindow {
  constructor(
    /** `access.settleMs`; 0 turns the window off, gaps included. */
    readonly settleMs: number,
    /** The receiver's gaps, as `[from, until, …]` in ms since the epoch, oldest first. */
    readonly gaps: readonly number[] = NO_GAPS,
  ) {}

  /** When the window after a paid period that ended at `paidEnd` (ms) closes. */
  closesAt(paidEnd: number): number {
    return this.closes(paidEnd, paidEnd % DAY_MS === 0 ? DAY_END_SLACK_MS : 0);
  }

  /**
   * When the window after a loss at `moment` (ms) that is not a paid end closes (a grace period's
   * end learned late): no renewal's start is due at it, so it is not waited for longer.
   */
  closesAfter(moment: number): number {
    return this.closes(moment, 0);
  }

  /**
   * `late`: how much later than `end` Aqueduct may see that moment come and first send. Without
   * gaps the latest first attempt is the last to close; with gaps, the window for each first
   * attempt `late` allows differs only where an attempt crosses a gap's edge, so those moments
   * (and the latest) are the ones to try.
   */
  private closes(end: number, late: number): number {
    if (this.settleMs <= 0 || !Number.isFinite(end)) {
      return end;
    }
    let closes = this.closesFrom(end + late);
    for (let i = 0; late > 0 && i < this.gaps.length; i++) {
      for (const attempt of AQUEDUCT_ATTEMPTS_MS) {
        for (const edge of [this.gaps[i] - RETRY_SLACK_MS, this.gaps[i]]) {
          const first = edge - attempt - 1; // just before this attempt crosses the edge
          if (first >= end && first <= end + late) {
            closes = Math.max(closes, this.closesFrom(first));
          }
        }
      }
    }
    return closes;
  }

  /** When the window closes if Aqueduct's first attempt was at `first` (ms). */
  private closesFrom(first: number): number {
    let closes = first + this.settleMs;
    for (let k = 0; k + 1 < AQUEDUCT_ATTEMPTS_MS.length; k++) {
      const attempt = first + AQUEDUCT_ATTEMPTS_MS[k];
      const afterNext = first + AQUEDUCT_ATTEMPTS_MS[k + 1] + RETRY_SLACK_MS;
      if (this.gapDuring(attempt, attempt + RETRY_SLACK_MS)) {
        closes = Math.max(closes, afterNext);
      } else if (closes < afterNext) {
        break; // this attempt found the receiver up, and the wait does not cover the next
      }
    }
    return closes;
  }

  private gapDuring(from: number, until: number): boolean {
    for (let i = 0; i < this.gaps.length; i += 2) {
      if (this.gaps[i] < until && this.gaps[i + 1] > from) {
        return true;
      }
    }
    return false;
  }
}
