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
