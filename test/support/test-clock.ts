import type { AqueductClock } from 'nestjs-aqueduct';

/** A clock the test moves by hand. */
export class TestClock implements AqueductClock {
  constructor(private current: Date) {}

  now(): Date {
    return new Date(this.current);
  }

  set(at: Date): void {
    this.current = new Date(at);
  }

  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export const DAY = 24 * 60 * 60 * 1000;

export const MINUTE = 60_000;

/** Where the subscription tests' clocks start: 2026-01-01, UTC. */
export const T0 = new Date('2026-01-01T09:30:00Z');

/** `days` and `minutes` after `T0`. */
export const at = (days: number, minutes = 0) =>
  new Date(T0.getTime() + days * DAY + minutes * MINUTE);
