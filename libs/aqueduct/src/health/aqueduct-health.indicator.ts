import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AccessCache } from '../access/access-cache';
import { AqueductAccessService } from '../access/aqueduct-access.service';
import { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import type { AqueductAlert } from '../alerts/alert.interfaces';
import { VerificationMonitor } from '../alerts/verification.monitor';
import { AqueductDispatcher } from '../dispatch/aqueduct-dispatcher.service';
import { AqueductEventReader } from '../admin/aqueduct-event.reader';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { withTimeout } from '../utils/with-timeout';

/** How long the database may take to answer the health check. */
const DATABASE_TIMEOUT_MS = 3000;

/**
 * The shape @nestjs/terminus expects from an indicator (no import: terminus is optional), with
 * `state`: `healthy`, `degraded` (up, but a person must act: see `alerts`) or `down`.
 */
export type AqueductHealthResult = Record<
  string,
  { status: 'up' | 'down'; state: 'healthy' | 'degraded' | 'down'; [detail: string]: unknown }
>;

/**
 * For `@nestjs/terminus`: `health.check([() => aqueductHealth.isHealthy('aqueduct')])`. Down when
 * the database does not answer, when this instance should dispatch but its dispatcher is not
 * running, when the oldest due delivery waits longer than `health.maxPendingAgeMs`, or when more
 * than `health.maxDeadDeliveries` deliveries are dead. Degraded (still `up`, so a load balancer
 * keeps the instance) while an operator alert is open: requests failing verification, events in
 * quarantine, a misregistered endpoint; while this instance sees verification failing; and while
 * its access checks answer without Postgres or without change notifications (`accessChecks`).
 */
@Injectable()
export class AqueductHealthIndicator {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly dispatcher: AqueductDispatcher,
    private readonly events: AqueductEventReader,
    private readonly alerts: AqueductAlerts,
    private readonly verification: VerificationMonitor,
    private readonly accessCache: AccessCache,
    private readonly access: AqueductAccessService,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  async isHealthy(key = 'aqueduct'): Promise<AqueductHealthResult> {
    const problems: string[] = [];
    let counts: Awaited<ReturnType<AqueductEventReader['counts']>> | undefined;
    let alerts: AqueductAlert[] = [];
    let quarantined: number | undefined;
    try {
      [counts, alerts, quarantined] = await withTimeout(
        Promise.all([this.events.counts(), this.alerts.list(), this.events.quarantinedCount()]),
        DATABASE_TIMEOUT_MS,
      );
    } catch (error) {
      problems.push(`database unavailable: ${(error as Error).message}`);
    }
    const warnings = alerts.map((alert) => `${alert.kind}: ${alert.reason}`);
    const refused = this.verification.recent();
    const refusedCount = Object.values(refused).reduce((sum, n) => sum + (n ?? 0), 0);
    if (refusedCount > 0 && !alerts.some((alert) => alert.kind === 'verification')) {
      warnings.push(
        `verification: ${refusedCount} request(s) refused recently, none verified since`,
      );
    }
    if (quarantined && !alerts.some((alert) => alert.kind === 'quarantine')) {
      warnings.push(`quarantine: ${quarantined} event(s) waiting to be reprocessed or dismissed`);
    }
    const cache = this.accessCache.state();
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
    const dispatching = this.options.dispatch.enabled;
    if (dispatching && !this.dispatcher.isRunning) {
      problems.push('dispatcher not running');
    }
    const { maxPendingAgeMs, maxDeadDeliveries } = this.options.health;
    const oldestPendingAgeMs = counts?.oldestPendingSince
      ? Date.now() - new Date(counts.oldestPendingSince).getTime()
      : 0;
    if (counts && oldestPendingAgeMs > maxPendingAgeMs) {
      problems.push(`oldest due delivery waits ${Math.round(oldestPendingAgeMs / 1000)} s`);
    }
    if (counts && maxDeadDeliveries !== undefined && counts.dead > maxDeadDeliveries) {
      problems.push(`${counts.dead} dead deliveries (more than ${maxDeadDeliveries})`);
    }
    const down = problems.length > 0;
    return {
      [key]: {
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
        quarantined,
        ...(refusedCount ? { refusedRecently: refused } : {}),
        accessChecks: { ...cache, answers: { ...this.access.answers } },
        dispatcher: dispatching ? (this.dispatcher.isRunning ? 'running' : 'stopped') : 'disabled',
        pending: counts?.pending,
        active: counts?.active,
        dead: counts?.dead,
        oldestPendingAgeMs,
      },
    };
  }
}
