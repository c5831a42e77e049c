import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  COUNT_KEPT_DELIVERIES_SQL,
  countPrunableSql,
  DELETE_BATCH_SQL,
  lockDeliveriesSql,
  PRUNE_FROM_START,
  type RetentionScope,
  selectPrunableSql,
  TRY_RETENTION_LOCK_SQL,
} from './aqueduct-retention.sql';
import { RETENTION_LOCK } from './aqueduct-storage.constants';

export type { RetentionScope } from './aqueduct-retention.sql';

/** Where a prune's next batch starts: after this event (`(received_at, id)`, as Postgres wrote it). */
export interface PruneCursor {
  at: string;
  id: string;
}

/** What one batch did. */
export interface PruneBatch {
  /** False when another instance held the retention lock: this one did nothing. */
  won: boolean;
  /** Old events looked at (the run goes on while this is the batch size). */
  scanned: number;
  /** Where the next batch starts. */
  next: PruneCursor;
  /** Events chosen and locked: the prunable ones among those looked at. */
  selected: number;
  /** Events deleted (fewer than selected when some became needed again meanwhile). */
  events: number;
  /** Their deliveries, deleted with them. */
  deliveries: number;
}

/** What would go, or went. */
export interface PruneCounts {
  events: number;
  deliveries: number;
}

/**
 * Deletes old events, with their deliveries, in batches (see `aqueduct-retention.sql.ts` for
 * which). A storage class of its own beside `AqueductEventStore`: the same table, a job apart.
 */
@Injectable()
export class AqueductRetentionStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Counts the events received before `before` that a prune would delete, and their deliveries. */
  async countPrunable(before: Date, scope: RetentionScope): Promise<PruneCounts> {
    const [row] = await this.dataSource.query(countPrunableSql(scope), [before]);
    return { events: Number(row.events), deliveries: Number(row.deliveries) };
  }

  /**
   * One batch, one transaction: the retention lock (or nothing), the next `batchSize` old events
   * after `after` looked at and the prunable ones locked, their deliveries locked, then the delete.
   * READ COMMITTED whatever the server's default: the deliveries' lock must read a replay that
   * committed while it waited at its committed version, and keep that event (REPEATABLE READ
   * would fail the batch instead).
   */
  pruneBatch(
    before: Date,
    scope: RetentionScope,
    batchSize: number,
    after: PruneCursor = PRUNE_FROM_START,
  ): Promise<PruneBatch> {
    return this.dataSource.transaction('READ COMMITTED', async (manager) => {
      const [{ won }] = await manager.query(TRY_RETENTION_LOCK_SQL, [RETENTION_LOCK]);
      if (!won) {
        return { won: false, scanned: 0, next: after, selected: 0, events: 0, deliveries: 0 };
      }
      const [window]: {
        scanned: number;
        lastAt: string | null;
        lastId: string | null;
        selected: number;
        ids: string;
      }[] = await manager.query(selectPrunableSql(scope), [before, batchSize, after.at, after.id]);
      const { scanned, selected, ids } = window;
      const next =
        window.lastAt && window.lastId ? { at: window.lastAt, id: window.lastId } : after;
      if (selected === 0) {
        return { won: true, scanned, next, selected: 0, events: 0, deliveries: 0 };
      }
      const [{ locked, kept }]: { locked: number; kept: string }[] = await manager.query(
        lockDeliveriesSql(scope),
        [ids],
      );
      const [{ events }]: { events: number }[] = await manager.query(DELETE_BATCH_SQL, [
        ids,
        kept,
        before,
      ]);
      // Deliveries of any event the delete kept are still there: not counted as deleted.
      const [{ n: left }]: { n: number }[] =
        events === selected ? [{ n: 0 }] : await manager.query(COUNT_KEPT_DELIVERIES_SQL, [ids]);
      return { won: true, scanned, next, selected, events, deliveries: locked - left };
    });
  }
}
