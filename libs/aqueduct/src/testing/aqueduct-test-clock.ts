import type { AqueductClock } from '../access/aqueduct-clock';

/**
 * A clock a test moves by hand, in a running app: give it to the module with
 * `Test.createTestingModule(...).overrideProvider(AQUEDUCT_CLOCK).useValue(clock)`, then `set()` or
 * `advance()` it whenever the test needs time to pass (and call `app.get(ExpiryJob).sweep()` for
 * what time changes). The ledger, access checks, the expiry job and the console all read it.
 */
export class AqueductTestClock implements AqueductClock {
  private current: number;

  constructor(start: Date | string | number = new Date()) {
    this.current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  set(at: Date | string | number): void {
    this.current = new Date(at).getTime();
  }

  /** Moves forward by `ms` (or by `{ days, hours, minutes }`). */
  advance(
    by: number | { days?: number; hours?: number; minutes?: number; seconds?: number },
  ): void {
    const ms =
      typeof by === 'number'
        ? by
        : (((by.days ?? 0) * 24 + (by.hours ?? 0)) * 60 + (by.minutes ?? 0)) * 60_000 +
          (by.seconds ?? 0) * 1000;
    this.current += ms;
  }
}
