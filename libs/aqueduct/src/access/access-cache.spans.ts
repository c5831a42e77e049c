/** Whether `spans` cover the instant `t`, and the next instant the answer changes. */
export function spanAt(
  spans: readonly number[],
  t: number,
): { covered: boolean; changesAt: number | null } {
  for (let i = 0; i < spans.length; i += 2) {
    if (t < spans[i]) {
      return { covered: false, changesAt: spans[i] };
    }
    if (t < spans[i + 1]) {
      return { covered: true, changesAt: spans[i + 1] };
    }
  }
  return { covered: false, changesAt: null };
}

/** Whether `spans` cover the instant `t`: `spanAt` without its answer object (the hot path). */
export function coversInstant(spans: readonly number[], t: number): boolean {
  for (let i = 0; i < spans.length; i += 2) {
    if (t < spans[i]) {
      return false;
    }
    if (t < spans[i + 1]) {
      return true;
    }
  }
  return false;
}

/** An instant as a stored timeline, a Date or ms since the epoch give it. */
type Instant = string | Date | number;

const msOf = (instant: Instant) =>
  typeof instant === 'number' ? instant : new Date(instant).getTime();

/** Spans `[from, until, …]` as `{ from, until }` pairs, for `toSpans` to merge with others. */
export function pairsOf(spans: readonly number[]): { from: number; until: number }[] {
  const pairs: { from: number; until: number }[] = [];
  for (let i = 0; i < spans.length; i += 2) {
    pairs.push({ from: spans[i], until: spans[i + 1] });
  }
  return pairs;
}

/** A stored timeline as spans: segments that touch (paid, then grace) are merged. */
export function toSpans(timeline: readonly { from: Instant; until: Instant }[]): number[] {
  const spans: number[] = [];
  const ordered = timeline
    .map((s) => [msOf(s.from), msOf(s.until)] as const)
    .sort((a, b) => a[0] - b[0]);
  for (const [from, until] of ordered) {
    const last = spans.length - 1;
    if (last > 0 && from <= spans[last]) {
      spans[last] = Math.max(spans[last], until);
    } else {
      spans.push(from, until);
    }
  }
  return spans;
}
