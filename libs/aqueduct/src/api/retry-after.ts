/**
 * Milliseconds a `Retry-After` header asks to wait: delta-seconds (`120`) or an HTTP date (a date
 * in the past means now). Undefined when absent or unreadable, so the usual backoff applies.
 */
export function parseRetryAfter(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed) {
    return undefined;
  }
  if (/^\d+$/.test(trimmed)) {
    return Number(trimmed) * 1000;
  }
  // An HTTP date starts with the day's name; without this check `Date.parse('-1')` is a date.
  const date = /^[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
