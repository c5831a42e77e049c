/** One day in ms (retention's `olderThanDays`). */
export const DAY_MS = 86_400_000;

/** The units a duration may be written in, with their length in ms. */
const UNIT_MS: Record<string, number> = {
  d: DAY_MS,
  h: 3_600_000,
  m: 60_000,
};

/**
 * A duration written as a whole number and a unit, `30d`, `12h` or `90m`, in ms; undefined for
 * anything else (a bare number is refused: "30" could be meant as days as well as minutes).
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+)\s*([dhm])\s*$/.exec(text);
  if (!match) {
    return undefined;
  }
  const ms = Number(match[1]) * UNIT_MS[match[2]];
  return Number.isSafeInteger(ms) && ms > 0 ? ms : undefined;
}
