import { isDeepStrictEqual } from 'node:util';
import type { AccessEvaluation, AccessSegment } from './access-timeline.interfaces';
import type { DueTransitions } from './access-transitions';
import type { AccessRow } from './aqueduct-ledger.rows';

/**
 * The columns of an access row to write, or null when nothing changed (no write, no new version).
 * The jsonb columns are sent only when they changed (null keeps them): the expiry job's rows keep
 * their timeline and orgs, and a batch's statement stays small.
 */
export function accessUpdate(
  row: AccessRow,
  evaluation: AccessEvaluation,
  { announced, transitions, lossObservedAt }: DueTransitions,
  nextCheckAt: Date | null,
): Record<string, unknown> | null {
  const timeline = sameTimeline(row.timeline, evaluation.segments) ? null : evaluation.segments;
  const orgs =
    evaluation.hasAccess && !isDeepStrictEqual(row.orgs, evaluation.orgs) ? evaluation.orgs : null;
  const announcedOrgs = isDeepStrictEqual(row.announced_orgs, announced.orgs)
    ? null
    : announced.orgs;
  const scalars = {
    status: evaluation.status,
    has_access: evaluation.hasAccess,
    since: evaluation.since,
    access_until: evaluation.accessUntil,
    paid_until: evaluation.paidUntil,
    awaiting_payment: evaluation.awaitingPayment,
    next_check_at: nextCheckAt,
    announced_status: announced.status,
    announced_until: announced.accessUntil,
    announce_seq: row.announce_seq + transitions.length,
    last_transition: transitions.at(-1)?.type ?? row.last_transition,
    loss_observed_at: lossObservedAt,
  };
  const same = Object.entries(scalars).every(([column, value]) =>
    sameValue(row[column as keyof AccessRow], value),
  );
  if (same && !timeline && !orgs && !announcedOrgs) {
    return null;
  }
  return { id: row.id, ...scalars, timeline, orgs, announced_orgs: announcedOrgs };
}

/** Instants compared as numbers, whether they came from Postgres or were computed. */
function sameValue(stored: unknown, computed: unknown): boolean {
  if (stored instanceof Date || computed instanceof Date) {
    return (
      stored instanceof Date && computed instanceof Date && stored.getTime() === computed.getTime()
    );
  }
  return (stored ?? null) === (computed ?? null);
}

function sameTimeline(stored: AccessRow['timeline'], computed: AccessSegment[]): boolean {
  return (
    stored.length === computed.length &&
    stored.every(
      (segment, i) =>
        segment.status === computed[i].status &&
        (segment.seats ?? null) === (computed[i].seats ?? null) &&
        Date.parse(segment.from) === computed[i].from.getTime() &&
        Date.parse(segment.until) === computed[i].until.getTime(),
    )
  );
}
