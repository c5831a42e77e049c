/** Longest part of a listener's name a flash message repeats. */
const FLASH_LISTENER_MAX_LENGTH = 200;

/** The result of the POST that redirected here, from the query it put in the redirect. */
export function flash(query: Record<string, unknown>): string | null {
  const { replayed, redriven, reprocessed, dismissed } = query;
  if (reprocessed === 'accepted') {
    return 'Reprocessed: the event now passes, and its listeners will run.';
  }
  if (reprocessed === 'quarantined') {
    return 'Reprocessed: still invalid (the errors below are today’s), so it stays in quarantine.';
  }
  if (dismissed === '1') {
    return 'Dismissed: no listener will run, and it no longer counts as waiting.';
  }
  if (typeof replayed === 'string' && /^\d+$/.test(replayed)) {
    return `Replay scheduled: ${replayed} ${replayed === '1' ? 'delivery' : 'deliveries'} will run again.`;
  }
  if (typeof redriven === 'string' && redriven !== '') {
    return `Redrive scheduled: ${redriven.slice(0, FLASH_LISTENER_MAX_LENGTH)} will run again.`;
  }
  return null;
}
