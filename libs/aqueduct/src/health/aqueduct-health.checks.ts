import type { AccessCache } from '../access/access-cache';
import type { AqueductEventReader } from '../admin/aqueduct-event.reader';
import type { AqueductAlert } from '../alerts/alert.interfaces';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';

/** The deliveries by state, with the oldest due one, as the health check reads them. */
export type HealthDeliveryCounts = Awaited<ReturnType<AqueductEventReader['backlog']>>;

/** What the access checks report about themselves. */
export type HealthAccessCacheState = ReturnType<AccessCache['state']>;

/** How long the oldest due delivery has waited (0 when none is due). */
export function oldestPendingAge(counts: HealthDeliveryCounts | undefined, now: number): number {
  return counts?.oldestPendingSince ? now - new Date(counts.oldestPendingSince).getTime() : 0;
}

/**
 * What makes the instance down in its backlog: a due delivery waiting longer than
 * `health.maxPendingAgeMs`, more dead deliveries than `health.maxDeadDeliveries`. Nothing when
 * the counts could not be read (the database problem says so already).
 */
export function backlogProblems(
  counts: HealthDeliveryCounts | undefined,
  oldestPendingAgeMs: number,
  health: ResolvedAqueductOptions['health'],
): string[] {
  const problems: string[] = [];
  const { maxPendingAgeMs, maxDeadDeliveries } = health;
  if (counts && oldestPendingAgeMs > maxPendingAgeMs) {
    problems.push(`oldest due delivery waits ${Math.round(oldestPendingAgeMs / 1000)} s`);
  }
  if (counts && maxDeadDeliveries !== undefined && counts.dead > maxDeadDeliveries) {
    problems.push(`${counts.dead} dead deliveries (more than ${maxDeadDeliveries})`);
  }
  return problems;
}

/**
 * What needs an operator: each open alert, what this instance sees before an alert is open
 * (requests refused recently, events in quarantine), and dead deliveries.
 */
export function operatorWarnings(
  alerts: AqueductAlert[],
  refusedCount: number,
  quarantined: number | undefined,
  dead = 0,
): string[] {
  const warnings = alerts.map((alert) => `${alert.kind}: ${alert.reason}`);
  if (refusedCount > 0 && !alerts.some((alert) => alert.kind === 'verification')) {
    warnings.push(`verification: ${refusedCount} request(s) refused recently, none verified since`);
  }
  if (quarantined && !alerts.some((alert) => alert.kind === 'quarantine')) {
    warnings.push(`quarantine: ${quarantined} event(s) waiting to be reprocessed or dismissed`);
  }
  if (dead > 0) {
    // Each one is work that did not happen: an account not provisioned, a mail not sent.
    warnings.push(
      `deliveries: ${dead} dead (a listener failed for good: an account not provisioned, a mail ` +
        'not sent); fix the cause, then redrive them (nestjs-aqueduct events redrive --all-dead)',
    );
  }
  return warnings;
}

/** Access checks that answer without Postgres, or without change notifications. */
export function accessCheckWarnings(cache: HealthAccessCacheState): string[] {
  const warnings: string[] = [];
  if (cache.database === 'unreachable') {
    warnings.push(
      `access checks: Postgres unreachable since ${cache.unreachableSince?.toISOString()}; answering from the cache (stale) and access.fallback`,
    );
  }
  if (cache.notifications === 'disconnected') {
    warnings.push(
      'access checks: change notifications lost; cached access is read again after access.cache.disconnectedTtlMs',
    );
  } else if (cache.notifications === 'unsupported') {
    warnings.push(
      'access checks: the change trigger is missing (run the migrations); cached access is read again after access.cache.disconnectedTtlMs',
    );
  }
  return warnings;
}
