/** Nearest-rank percentile (fraction 0.5 = median, 1 = max); NaN for no values. */
export function percentile(values: number[], fraction: number): number {
  if (values.length === 0) {
    return NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)];
}

/** Bytes as MiB with one decimal, the unit RSS is usually read in. */
export function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Whether a measured value is within its target, for the summary's `met` column. */
export function atMost(value: number, limit: number): boolean {
  return Number.isFinite(value) && value <= limit;
}
