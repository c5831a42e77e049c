import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AqueductDispatcher } from '../dispatch/aqueduct-dispatcher.service';
import { AqueductEventsService } from '../events/aqueduct-events.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.validator';
import { withTimeout } from '../utils/with-timeout';

/** How long the database may take to answer the health check. */
const DATABASE_TIMEOUT_MS = 3000;

/** The shape @nestjs/terminus expects from an indicator (no import: terminus is optional). */
export type AqueductHealthResult = Record<
  string,
  { status: 'up' | 'down'; [detail: string]: unknown }
>;

/**
 * For `@nestjs/terminus`: `health.check([() => aqueductHealth.isHealthy('aqueduct')])`. Down when
 * the database does not answer, when this instance should dispatch but its dispatcher is not
 * running, when the oldest due delivery waits longer than `health.maxPendingAgeMs`, or when more
 * than `health.maxDeadDeliveries` deliveries are dead.
 */
@Injectable()
export class AqueductHealthIndicator {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly dispatcher: AqueductDispatcher,
    private readonly events: AqueductEventsService,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  async isHealthy(key = 'aqueduct'): Promise<AqueductHealthResult> {
    const problems: string[] = [];
    let counts: Awaited<ReturnType<AqueductEventsService['counts']>> | undefined;
    try {
      counts = await withTimeout(this.events.counts(), DATABASE_TIMEOUT_MS);
    } catch (error) {
      problems.push(`database unavailable: ${(error as Error).message}`);
    }
    const dispatching = this.options.dispatch.enabled;
    if (dispatching && !this.dispatcher.isRunning) {
      problems.push('dispatcher not running');
    }
    const { maxPendingAgeMs, maxDeadDeliveries } = this.options.health ?? {};
    const oldestPendingAgeMs = counts?.oldestPendingSince
      ? Date.now() - new Date(counts.oldestPendingSince).getTime()
      : 0;
    if (counts && oldestPendingAgeMs > (maxPendingAgeMs ?? 600_000)) {
      problems.push(`oldest due delivery waits ${Math.round(oldestPendingAgeMs / 1000)} s`);
    }
    if (counts && maxDeadDeliveries !== undefined && counts.dead > maxDeadDeliveries) {
      problems.push(`${counts.dead} dead deliveries (more than ${maxDeadDeliveries})`);
    }
    return {
      [key]: {
        status: problems.length === 0 ? 'up' : 'down',
        ...(problems.length ? { problems } : {}),
        dispatcher: dispatching ? (this.dispatcher.isRunning ? 'running' : 'stopped') : 'disabled',
        pending: counts?.pending,
        active: counts?.active,
        dead: counts?.dead,
        oldestPendingAgeMs,
      },
    };
  }
}
