/**
 * An instant sent to Postgres as milliseconds since the epoch (`expression`, SQL): exact, and any
 * year a Date holds (an ISO string of a year past 9999 is `+010000-…`, which Postgres does not read).
 */
export const fromEpochMs = (expression: string) =>
  `timestamptz 'epoch' + ${expression} * interval '1 millisecond'`;

/** The milliseconds `fromEpochMs` reads back, or null. */
export const epochMs = (instant: Date | null) => instant?.getTime() ?? null;
