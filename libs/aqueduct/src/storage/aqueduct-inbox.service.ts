import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { asRawRecord, isPayloadFault, isStoredAsRaw } from './aqueduct-inbox.faults';
import {
  FIND_SQL,
  STORE_INTERNAL_SQL,
  STORE_SQL,
  storeInternalParams,
  storeParams,
} from './aqueduct-inbox.sql';
import type {
  InboxRecord,
  InboxResult,
  InternalEventRecord,
  StoredInternalEvent,
} from './aqueduct-inbox.types';
import { DispatchSignal } from './dispatch-signal';
import type { InlineStatement } from './opening-transaction';
import { type PreparedStatement, preparedStatement, queryPrepared } from './prepared-statement';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';

export { isPayloadFault } from './aqueduct-inbox.faults';
export type {
  InboxRecord,
  InboxResult,
  InternalEventRecord,
  StoredInternalEvent,
} from './aqueduct-inbox.types';

/** Most events written by one statement. */
const MAX_BATCH = 200;

/**
 * The inbox's prepared statements (one plan per pooled connection). Both only insert: a plan that
 * reads a table would be kept as made, whatever the table grew to since.
 */
const STORE_STATEMENT = 'aqueduct_inbox_store';
/** The module's own events, in the caller's transaction (planning it cost ~0.4 ms a time). */
const STORE_INTERNAL_STATEMENT = {
  name: 'aqueduct_inbox_store_internal',
  text: STORE_INTERNAL_SQL,
};

interface Pending {
  record: InboxRecord;
  resolve: (result: InboxResult) => void;
  reject: (error: unknown) => void;
}

/** A row of `STORE_SQL` or `FIND_SQL`. */
type ResultRow = InboxResult & { dedup_key: string };

/** Webhook writes failing, none committed since: what health reports. */
export interface FailingStores {
  since: Date;
  lastAt: Date;
  /** Requests whose write failed since. */
  failed: number;
  /** The last error's message (Postgres's: no body, no header). */
  error: string;
}

/**
 * The durable inbox. Requests that arrive together are written together: one statement and one
 * commit for the lot, which is what lets ingest keep up under bursts. A request is answered only
 * when the statement holding its event has committed.
 */
@Injectable()
export class AqueductInbox {
  private queue: Pending[] = [];
  private failing?: FailingStores;
  private flushScheduled = false;
  private readonly storeStatement: PreparedStatement;
  private readonly prepared: boolean;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly signal: DispatchSignal,
    @Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions,
  ) {
    this.prepared = options.preparedStatements;
    this.storeStatement = preparedStatement(dataSource, STORE_STATEMENT, STORE_SQL, this.prepared);
  }

  store(record: InboxRecord): Promise<InboxResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /*
   * Every batch is written at once, however many are in flight. Holding requests back while two
   * batches ran (so that batches grow) was measured too: it did not lower Postgres' CPU per event
   * measurably in the ingest benchmark, and it would queue every request behind a statement stuck
   * on a dead connection.
   */
  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      void this.writeBatch(this.queue.splice(0, MAX_BATCH));
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const groups = byDedupKey(batch);
    try {
      const results = await this.write(groups.map((copies) => copies[0].record));
      groups.forEach((copies, index) => {
        const result = results[index];
        copies.forEach((pending, copy) =>
          pending.resolve(copy === 0 ? result : { ...result, duplicate: true }),
        );
      });
      this.failing = undefined;
      // Deliveries stored pending wake this instance's dispatcher to claim them; leased ones are
      // handed to it directly (a claim would find nothing, one wasted statement per batch).
      const pending = (result: InboxResult, index: number) =>
        !result.duplicate && result.status === 'accepted' && !groups[index][0].record.lease;
      if (results.some(pending)) {
        this.signal.wake();
      }
    } catch (error) {
      await this.recover(batch, groups, error);
    }
  }

  /** After a failed write: isolates and quarantines a payload at fault, else fails the batch. */
  private async recover(batch: Pending[], groups: Pending[][], error: unknown): Promise<void> {
    if (groups.length > 1 && isPayloadFault(error)) {
      // One bad body must not fail the others: write them one by one.
      for (const copies of groups) {
        await this.writeBatch(copies);
      }
      return;
    }
    const record = groups[0][0].record;
    if (isPayloadFault(error) && !isStoredAsRaw(record)) {
      const asRaw = asRawRecord(record, error);
      return this.writeBatch(groups[0].map((pending) => ({ ...pending, record: asRaw })));
    }
    const now = new Date();
    this.failing = {
      since: this.failing?.since ?? now,
      lastAt: now,
      failed: (this.failing?.failed ?? 0) + batch.length,
      error: (error as Error)?.message ?? String(error),
    };
    batch.forEach((pending) => pending.reject(error));
  }

  /**
   * Whether webhook writes are failing, none committed since (answered 503: a database that reads
   * but refuses writes, a full disk, a revoked grant), which health reads cannot see.
   */
  failingStores(): Readonly<FailingStores> | undefined {
    return this.failing;
  }

  /**
   * Stores events the module writes itself, with their deliveries, inside the caller's transaction:
   * they commit (and their NOTIFY goes out) with the change that caused them, or not at all. A
   * key already stored is left alone (the same change written twice is one event). With a lease,
   * the deliveries are created leased to that dispatcher, which runs them after the commit.
   * Returns the events stored.
   */
  async storeWithin(
    manager: EntityManager,
    records: InternalEventRecord[],
    lease?: InboxRecord['lease'],
  ): Promise<StoredInternalEvent[]> {
    if (records.length === 0) {
      return [];
    }
    return queryPrepared(
      manager,
      STORE_INTERNAL_STATEMENT,
      storeInternalParams(records, lease),
      this.prepared,
    );
  }

  /**
   * `storeWithin` as a statement to send with the caller's commit (`openingTransaction`'s `close`):
   * one round trip fewer, for a statement then planned each time (~0.15 ms). Its rows are the
   * events stored (`StoredInternalEvent`).
   */
  storeWithCommit(records: InternalEventRecord[], lease?: InboxRecord['lease']): InlineStatement {
    return { text: STORE_INTERNAL_SQL, values: storeInternalParams(records, lease) };
  }

  /** Results in the order of `records` (whose dedup keys are distinct). */
  private async write(records: InboxRecord[]): Promise<InboxResult[]> {
    const rows = await this.storeStatement<ResultRow>(storeParams(records));
    const byKey = new Map(rows.map((row) => [row.dedup_key, row]));
    const unseen = records.filter((r) => !byKey.has(r.dedupKey)).map((r) => r.dedupKey);
    if (unseen.length > 0) {
      // Unnamed, planned each time: it reads the table, and a plan kept from an empty table (a
      // sequential scan) would read all of it for every duplicate once the table had grown.
      const found: ResultRow[] = await this.dataSource.query(FIND_SQL, [unseen]);
      found.forEach((row) => byKey.set(row.dedup_key, row));
    }
    return records.map((record) => {
      const row = byKey.get(record.dedupKey);
      if (!row) {
        throw new Error(`event ${record.dedupKey} was neither stored nor found`);
      }
      return { id: row.id, status: row.status, duplicate: row.duplicate, errors: row.errors };
    });
  }
}

/**
 * The batch grouped by dedup key, in order of first appearance. A key may occur once per
 * statement (ON CONFLICT DO UPDATE): later copies ride on the first.
 */
function byDedupKey(batch: Pending[]): Pending[][] {
  const firsts = new Map<string, Pending[]>();
  for (const pending of batch) {
    const copies = firsts.get(pending.record.dedupKey) ?? [];
    copies.push(pending);
    firsts.set(pending.record.dedupKey, copies);
  }
  return [...firsts.values()];
}
