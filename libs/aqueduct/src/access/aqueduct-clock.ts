/** The module's notion of "now": replace it in tests to move time (`overrideProvider(AQUEDUCT_CLOCK)`). */
export interface AqueductClock {
  now(): Date;
}

export const AQUEDUCT_CLOCK = Symbol('AQUEDUCT_CLOCK');

export const systemClock: AqueductClock = { now: () => new Date() };
