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

/** A stored timeline as spans: segments that touch (paid, then grace) are merged. */
export function toSpans(
  timeline: readonly { from: string | Date; until: string | Date }[],
): number[] {
  const spans: number[] = [];
  const ordered = timeline
    .map((s) => [new Date(s.from).getTime(), new Date(s.until).getTime()] as const)
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
