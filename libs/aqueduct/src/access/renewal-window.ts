import { AQUEDUCT_ATTEMPTS_MS, RETRY_SLACK_MS } from '../events/aqueduct-retries';

/** No gap recorded: shared, so a window without gaps costs nothing. */
export const NO_GAPS: readonly number[] = Object.freeze([]);

/**
 * The longest a renewal window can last after a paid end, whatever gaps are recorded: `settleMs`,
 * or until just after Aqueduct's last attempt. Data read for windows still open reaches back this far.
 */
export function longestWindowMs(settleMs: number): number {
  return settleMs <= 0 ? 0 : Math.max(settleMs, AQUEDUCT_ATTEMPTS_MS.at(-1)! + RETRY_SLACK_MS);
}

/**
 * How long access is held past a paid period's end for a renewal whose `provisioning.start` may
 * still be on its way. Aqueduct sends that start at the moment the paid period ends and, when it
 * is refused, again 1, 7, 19 and 43 hours later. `settleMs` covers the refusals nobody saw (a
 * deploy, a database blip: by default, until the first retry has come); on top of it, every attempt
 * that fell into a gap of the receiver (no instance reached Postgres: see `ReceiverUptime`) was
 * refused for sure, so the window lasts until the first attempt after it that found the receiver
 * up, and at most until the last one. Without a gap, the window is `settleMs` exactly.
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
    if (this.settleMs <= 0 || !Number.isFinite(paidEnd)) {
      return paidEnd;
    }
    let closes = paidEnd + this.settleMs;
    for (let k = 0; k + 1 < AQUEDUCT_ATTEMPTS_MS.length; k++) {
      const attempt = paidEnd + AQUEDUCT_ATTEMPTS_MS[k];
      const afterNext = paidEnd + AQUEDUCT_ATTEMPTS_MS[k + 1] + RETRY_SLACK_MS;
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
