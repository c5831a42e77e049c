import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ClaimedDelivery, DeliveryQueue } from './delivery-queue.interface';
import { appendToAttemptLog, attemptEntry } from './delivery-attempt-log';

/**
 * Claiming is one short statement: SKIP LOCKED lets every instance take different rows without
 * waiting on each other, and the lease (run_at = lease expiry while active) lets any instance
 * retake the work of one that died. Listeners run outside any transaction.
 *
 * Every statement that ends an attempt appends it to `attempt_log` in the same UPDATE (no extra
 * round trip on the hot path). Retaking an active row is how an attempt whose holder died ends:
 * the claim logs it as abandoned, with the old holder's number, start and id, before overwriting
 * them.
 */
const ABANDONED_ERROR = `'lease expired before the attempt finished (its process stopped or lost the database)'`;
const CLAIM_SQL = `
UPDATE aqueduct_deliveries d
   SET state = 'active', attempts = d.attempts + 1, locked_by = $1,
       locked_until = now() + $2 * interval '1 millisecond', run_at = now() + $2 * interval '1 millisecond',
       started_at = now(),
       attempt_log = CASE WHEN d.state = 'active'
         THEN ${appendToAttemptLog('d.attempt_log', attemptEntry('d.', `'abandoned'`, ABANDONED_ERROR))}
         ELSE d.attempt_log END
  FROM (SELECT event_id, listener FROM aqueduct_deliveries
         WHERE state IN ('pending', 'active') AND run_at <= now() AND listener = ANY($3::text[])
         ORDER BY run_at
         LIMIT $4
           FOR UPDATE SKIP LOCKED) c,
       aqueduct_events e
 WHERE d.event_id = c.event_id AND d.listener = c.listener AND e.id = d.event_id
RETURNING d.event_id, d.listener, d.attempts, e.type, e.created_at, e.received_at, e.payload`;

/**
 * Only the current lease holder may finish a delivery: a retaken lease fences the old owner out.
 * (`locked_by` is set only while active. Testing `state` here too would let the planner pick the
 * partial runnable index over the primary key, and scan the whole backlog for every completion.)
 */
const OWNED = `event_id = $1 AND listener = $2 AND locked_by = $3`;

/** Completions that finish together are recorded together: one statement, one commit. */
const COMPLETE_SQL = `
UPDATE aqueduct_deliveries d
   SET state = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL, last_error = NULL,
       attempt_log = ${appendToAttemptLog('d.attempt_log', attemptEntry('d.', `'done'`, 'NULL'))}
  FROM unnest($1::uuid[], $2::text[]) AS r(event_id, listener)
 WHERE d.event_id = r.event_id AND d.listener = r.listener AND d.locked_by = $3`;

const FAIL_SQL = `
UPDATE aqueduct_deliveries d
   SET state = CASE WHEN $5 THEN 'dead' ELSE 'pending' END,
       run_at = now() + $6 * interval '1 millisecond',
       finished_at = CASE WHEN $5 THEN now() END,
       last_error = $4, locked_by = NULL, locked_until = NULL,
       attempt_log = ${appendToAttemptLog(
         'd.attempt_log',
         attemptEntry('d.', `CASE WHEN $5 THEN 'dead' ELSE 'failed' END`, '$4::text'),
       )}
 WHERE ${OWNED}`;

const EXTEND_SQL = `
UPDATE aqueduct_deliveries d
   SET locked_until = now() + $4 * interval '1 millisecond', run_at = now() + $4 * interval '1 millisecond'
  FROM unnest($1::uuid[], $2::text[]) AS r(event_id, listener)
 WHERE d.event_id = r.event_id AND d.listener = r.listener AND d.locked_by = $3`;

/**
 * Shutdown hands back what it did not finish: deliveries waiting in memory (never started) and
 * listeners still running after the shutdown timeout. Neither is the listener's failure, so the
 * attempt is given back to the retry budget (the next run reuses its number). It is still logged,
 * as `released`: a listener cut off mid-run may have done part of its work on this instance, and
 * the operator should see why the same attempt number then appears again on another.
 */
const RELEASE_SQL = `
UPDATE aqueduct_deliveries d
   SET state = 'pending', run_at = now(), locked_by = NULL, locked_until = NULL,
       attempts = greatest(d.attempts - 1, 0),
       attempt_log = ${appendToAttemptLog('d.attempt_log', attemptEntry('d.', `'released'`, 'NULL'))}
  FROM unnest($1::uuid[], $2::text[]) AS r(event_id, listener)
 WHERE d.event_id = r.event_id AND d.listener = r.listener AND d.locked_by = $3`;

/** A full claim slower than this suggests a plan built on stale statistics. */
const SLOW_CLAIM_MS = 10;
/** Least time between two statistics refreshes by this instance. */
const ANALYZE_INTERVAL_MS = 60_000;

/** Errors are kept for operators, bounded so a huge message cannot bloat the table. */
const MAX_ERROR_LENGTH = 2000;

interface PendingCompletion {
  delivery: ClaimedDelivery;
  owner: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

@Injectable()
export class PostgresDeliveryQueue implements DeliveryQueue {
  private completions: PendingCompletion[] = [];
  private lastAnalyze = 0;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async claim(
    owner: string,
    listeners: string[],
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedDelivery[]> {
    const started = Date.now();
    // An UPDATE answers [rows, rowCount] through TypeORM.
    const [rows]: [Record<string, any>[], number] = await this.dataSource.query(CLAIM_SQL, [
      owner,
      leaseMs,
      listeners,
      limit,
    ]);
    if (rows.length === limit && Date.now() - started > SLOW_CLAIM_MS) {
      this.refreshStatistics();
    }
    return rows.map((row) => ({
      eventId: row.event_id,
      listener: row.listener,
      attempts: row.attempts,
      type: row.type,
      createdAt: row.created_at,
      receivedAt: row.received_at,
      payload: row.payload,
    }));
  }

  /**
   * A backlog that grew faster than autovacuum looked (or with autovacuum off) leaves the planner
   * believing the queue is tiny: it then sorts every runnable row for each claim instead of
   * walking the index. Refreshing the table's statistics puts the index scan back. Best effort:
   * it needs the table's owner, as the migrations' user is.
   */
  private refreshStatistics(): void {
    if (Date.now() - this.lastAnalyze < ANALYZE_INTERVAL_MS) {
      return;
    }
    this.lastAnalyze = Date.now();
    this.dataSource.query('ANALYZE aqueduct_deliveries').catch(() => undefined);
  }

  complete(delivery: ClaimedDelivery, owner: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.completions.push({ delivery, owner, resolve, reject });
      if (this.completions.length === 1) {
        setImmediate(() => void this.flushCompletions());
      }
    });
  }

  private async flushCompletions(): Promise<void> {
    const batch = this.completions;
    this.completions = [];
    const byOwner = new Map<string, PendingCompletion[]>();
    batch.forEach((c) => byOwner.set(c.owner, [...(byOwner.get(c.owner) ?? []), c]));
    for (const [owner, completions] of byOwner) {
      try {
        await this.dataSource.query(COMPLETE_SQL, [
          ...keys(completions.map((c) => c.delivery)),
          owner,
        ]);
        completions.forEach((c) => c.resolve());
      } catch (error) {
        completions.forEach((c) => c.reject(error));
      }
    }
  }

  async fail(
    delivery: ClaimedDelivery,
    owner: string,
    error: string,
    retryInMs: number,
    dead: boolean,
  ): Promise<void> {
    await this.dataSource.query(FAIL_SQL, [
      delivery.eventId,
      delivery.listener,
      owner,
      error.slice(0, MAX_ERROR_LENGTH),
      dead,
      dead ? 0 : retryInMs,
    ]);
  }

  async extend(deliveries: ClaimedDelivery[], owner: string, leaseMs: number): Promise<void> {
    if (deliveries.length > 0) {
      await this.dataSource.query(EXTEND_SQL, [...keys(deliveries), owner, leaseMs]);
    }
  }

  async release(deliveries: ClaimedDelivery[], owner: string): Promise<void> {
    if (deliveries.length > 0) {
      await this.dataSource.query(RELEASE_SQL, [...keys(deliveries), owner]);
    }
  }
}

function keys(deliveries: ClaimedDelivery[]): [string[], string[]] {
  return [deliveries.map((d) => d.eventId), deliveries.map((d) => d.listener)];
}
