import type { AqueductAlert } from '../alerts/alert.interfaces';
import type { HealthDeliveryCounts } from './aqueduct-health.checks';

/**
 * The shape @nestjs/terminus expects from an indicator (no import: terminus is optional), with
 * `state`: `healthy`, `degraded` (up, but a person must act: see `alerts`) or `down`.
 */
export type AqueductHealthResult = Record<
  string,
  { status: 'up' | 'down'; state: 'healthy' | 'degraded' | 'down'; [detail: string]: unknown }
>;

/** What one health check found, before it is shaped for terminus. */
export interface HealthFindings {
  /** What makes the instance down. */
  problems: string[];
  /** What makes it degraded. */
  warnings: string[];
  alerts: AqueductAlert[];
  quarantined: number | undefined;
  /** Requests refused recently, by reason, and their sum. */
  refused: Record<string, number | undefined>;
  refusedCount: number;
  accessChecks: Record<string, unknown>;
  dispatcher: 'running' | 'stopped' | 'disabled';
  counts: HealthDeliveryCounts | undefined;
  oldestPendingAgeMs: number;
}

/** The entry of one indicator: down on any problem, degraded on any warning, healthy otherwise. */
export function healthEntry(findings: HealthFindings): AqueductHealthResult[string] {
  const { problems, warnings, alerts, refusedCount, counts } = findings;
  const down = problems.length > 0;
  return {
    status: down ? 'down' : 'up',
    state: down ? 'down' : warnings.length > 0 ? 'degraded' : 'healthy',
    ...(problems.length ? { problems } : {}),
    ...(warnings.length ? { warnings } : {}),
    ...(alerts.length
      ? {
          alerts: alerts.map(({ kind, raisedAt, occurrences }) => ({
            kind,
            raisedAt,
            occurrences,
          })),
        }
      : {}),
    quarantined: findings.quarantined,
    ...(refusedCount ? { refusedRecently: findings.refused } : {}),
    accessChecks: findings.accessChecks,
    dispatcher: findings.dispatcher,
    pending: counts?.pending,
    active: counts?.active,
    dead: counts?.dead,
    oldestPendingAgeMs: findings.oldestPendingAgeMs,
  };
}
