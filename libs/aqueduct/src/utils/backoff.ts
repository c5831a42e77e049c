/**
 * Exponential backoff with jitter: `base · 2^(attempt-1)`, capped, then a random point in its upper
 * half, so deliveries that failed together (an outage) do not all come back in the same instant.
 */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  capMs: number,
  random = Math.random,
): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}
