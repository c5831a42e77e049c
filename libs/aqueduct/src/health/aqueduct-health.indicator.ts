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
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductInbox } from '../storage/aqueduct-inbox.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { withTimeout } from '../utils/with-timeout';
import {
  type HealthDeliveryCounts,
  accessCheckWarnings,
  backlogProblems,
  oldestPendingAge,
  operatorWarnings,
} from './aqueduct-health.checks';
import { type AqueductHealthResult, healthEntry } from './aqueduct-health.result';

export type { AqueductHealthResult } from './aqueduct-health.result';

/** How long the database may take to answer the health check. */
const DATABASE_TIMEOUT_MS = 3000;
/** Failed webhook writes, none committed since, that make this instance down (fewer: degraded). */
const FAILED_STORES_DOWN = 3;
/** A failed write older than this, with none since (a quiet endpoint), is not reported any more. */
const FAILED_STORES_REPORTED_MS = 15 * 60_000;

/** What the health check reads from the database; `problem` says why it could not. */
interface StoredState {
  counts?: HealthDeliveryCounts;
  alerts: AqueductAlert[];
  quarantined?: number;
  problem?: string;
}

/**
 * For `@nestjs/terminus`: `health.check([() => aqueductHealth.isHealthy('aqueduct')])`. Down when
 * the database does not answer, when this instance should dispatch but its dispatcher is not
 * running, when the oldest due delivery waits longer than `health.maxPendingAgeMs`, or when more
 * than `health.maxDeadDeliveries` deliveries are dead, or when webhook writes keep failing (a
 * database that reads but refuses writes: degraded from the first). Degraded (still `up`, so a load balancer
 * keeps the instance) while an operator alert is open: requests failing verification, events in
 * quarantine, a misregistered endpoint; while this instance sees verification failing; while a
 * delivery is dead; and while its access checks answer without Postgres or without change
 * notifications (`accessChecks`).
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
    private readonly registry: AqueductListenerRegistry,
    private readonly inbox: AqueductInbox,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  async isHealthy(key = 'aqueduct'): Promise<AqueductHealthResult> {
    const { counts, alerts, quarantined, problem } = await this.readStored();
    const problems = problem ? [problem] : [];
    const refused = this.verification.recent();
    const refusedCount = Object.values(refused).reduce((sum, n) => sum + (n ?? 0), 0);
    const cache = this.accessCache.state();
    const warnings = [
      // Dead deliveries of a listener no instance runs any more cannot be redriven into work.
      ...operatorWarnings(alerts, refusedCount, quarantined, counts?.deadOfListeners),
      ...accessCheckWarnings(cache),
    ];
    const failing = this.failingStores();
    if (failing) {
      (failing.down ? problems : warnings).push(failing.text);
    }
    const dispatching = this.options.dispatch.enabled;
    if (dispatching && !this.dispatcher.isRunning) {
      problems.push('dispatcher not running');
    }
    const oldestPendingAgeMs = oldestPendingAge(counts, Date.now());
    problems.push(...backlogProblems(counts, oldestPendingAgeMs, this.options.health));
    const entry = healthEntry({
      problems,
      warnings,
      alerts,
      quarantined,
      refused,
      refusedCount,
      accessChecks: { ...cache, answers: { ...this.access.answers } },
      dispatcher: dispatching ? (this.dispatcher.isRunning ? 'running' : 'stopped') : 'disabled',
      counts,
      oldestPendingAgeMs,
    });
    return { [key]: entry };
  }

  /**
   * Webhook writes failing with none committed since: every delivery is answered 503 while the
   * database still answers reads (a failover onto a read-only node, a full disk), and Aqueduct
   * disables the endpoint after its last retry. Down from a few, so that someone is told.
   */
  private failingStores(): { text: string; down: boolean } | undefined {
    const failing = this.inbox.failingStores();
    if (!failing || Date.now() - failing.lastAt.getTime() > FAILED_STORES_REPORTED_MS) {
      return undefined;
    }
    return {
      text:
        `webhook events cannot be stored: ${failing.failed} answered 503 since ` +
        `${failing.since.toISOString()}, none stored since (${failing.error})`,
      down: failing.failed >= FAILED_STORES_DOWN,
    };
  }

  /**
   * Deliveries, open alerts and quarantined events, in one round that may not outlast the timeout.
   * Read from partial indexes only: a probe must cost the same with ten million done deliveries.
   */
  private async readStored(): Promise<StoredState> {
    try {
      const [counts, alerts] = await withTimeout(
        Promise.all([
          // A delivery of a listener no instance runs any more (renamed or removed in a release)
          // waits forever: it must not hold health down for good.
          this.events.backlog(this.registry.names()),
          this.alerts.list(),
        ]),
        DATABASE_TIMEOUT_MS,
      );
      return { counts, alerts, quarantined: counts.quarantined };
    } catch (error) {
      return { alerts: [], problem: `database unavailable: ${(error as Error).message}` };
    }
  }
}
