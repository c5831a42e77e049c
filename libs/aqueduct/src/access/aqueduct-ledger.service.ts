import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { DataSource, type EntityManager } from 'typeorm';
import { DispatchSignal } from '../storage/dispatch-signal';
import { AqueductEventType } from '../events/aqueduct-event-types';
import type { InvoiceDto } from '../events/invoice.dto';
import { MAX_ID_LENGTH, type ProvisioningDto } from '../events/provisioning.dto';
import type { AqueductEvent } from '../events/aqueduct-event.interface';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AqueductInbox, type InternalEventRecord } from '../storage/aqueduct-inbox.service';
import { AccessCache } from './access-cache';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import type { AccessEventObject } from '../events/access-event.interface';
import {
  type AccessEvaluation,
  type AccessSegment,
  type ProvisioningDates,
  evaluateAccess,
} from './access-timeline';
import {
  type AccessTransition,
  type AnnouncedAccess,
  type DueTransitions,
  transitionsDue,
} from './access-transitions';
import {
  type AccessRow,
  type Pair,
  LedgerSql,
  SWEEP_LOCK,
  pairKey,
  samePair,
} from './aqueduct-ledger.sql';

/** Ties between events created at the same instant: an end outranks an update outranks a start. */
const EVENT_RANK: Record<string, number> = {
  [AqueductEventType.ProvisioningStart]: 0,
  [AqueductEventType.ProvisioningUpdate]: 1,
  [AqueductEventType.ProvisioningEnd]: 2,
};

/** Longer keys are hashed: a btree entry has a size limit, and ids come from the sender. */
const MAX_KEY_BYTES = 512;

/**
 * The key of a provisioning: its own `id` when the object has one; else its invoice (each invoice
 * creates its own provisioning, and one invoice may cover several products); else its period
 * (customer, product, subscription and start date), which the start and the end of one period
 * share even when the end moves the end date (a cancellation).
 */
export function provisioningKey(object: ProvisioningDto): string {
  const id = object.id;
  const key =
    (typeof id === 'string' && id !== '') || typeof id === 'number'
      ? `id:${id}`
      : object.invoiceId
        ? `invoice:${object.customerId}:${object.productId}:${object.invoiceId}`
        : `period:${object.customerId}:${object.productId}:${object.subscriptionId ?? '-'}:${object.startDate.getTime()}`;
  return Buffer.byteLength(key) > MAX_KEY_BYTES
    ? `sha256:${createHash('sha256').update(key).digest('hex')}`
    : key;
}

/** What one ledger write touched. */
export interface LedgerChange {
  /** The (customer, product) pairs whose access was re-evaluated. */
  pairs: Pair[];
  /** Whether the event changed its provisioning (false for an older or repeated one). */
  applied: boolean;
  /** The `access.*` events written. */
  transitions: AccessTransition[];
}

/** What one batch of the expiry job did. */
export interface SweepBatch {
  /** False when another instance held the sweep lock. */
  won: boolean;
  evaluated: number;
  transitions: AccessTransition[];
}

/**
 * The access ledger's writes. Every change to a customer's access to a product happens under that
 * (customer, product)'s row lock, in one transaction: the provisioning (or payment) is written,
 * the union of the customer's windows is evaluated, and each transition it yields is written into
 * the inbox as an `access.*` event with its deliveries. So the access row, the announcement and
 * the work it causes commit together, whatever instance runs it, and a retry finds nothing new.
 */
@Injectable()
export class AqueductLedger {
  private readonly sql: LedgerSql;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly listeners: AqueductListenerRegistry,
    private readonly inbox: AqueductInbox,
    private readonly signal: DispatchSignal,
    private readonly cache: AccessCache,
  ) {
    this.sql = new LedgerSql();
  }

  /**
   * Applies a `provisioning.*` event when it is newer (envelope time, then start < update < end)
   * than the last one applied to its provisioning, then re-evaluates the customer's access.
   */
  applyProvisioning(event: AqueductEvent<ProvisioningDto>): Promise<LedgerChange> {
    const object = event.object;
    const key = provisioningKey(object);
    const own: Pair = { customerId: object.customerId, productId: object.productId };
    return this.write(async (manager, evaluated) => {
      if (object.invoiceId) {
        // Serialises it with an `invoice.paid` for the same invoice, so neither misses the other.
        await this.sql.lockInvoice(manager, object.invoiceId);
      }
      // The provisioning may have been under another customer or product before: both change.
      // Its row stays locked until the commit, so nothing moves it meanwhile.
      const pairs = uniquePairs([own, ...(await this.sql.lockProvisioning(manager, key))]);
      const rows = await this.sql.lockAccess(manager, pairs);
      const applied = await this.sql.upsertProvisioning(
        manager,
        key,
        event,
        EVENT_RANK[event.type] ?? 0,
      );
      return {
        pairs,
        applied,
        transitions: await this.evaluate(manager, rows, this.clock.now(), evaluated),
      };
    });
  }

  /**
   * Records an `invoice.paid` (the first one counts: access may start from that moment). With
   * `access.requirePayment`, the provisionings of that invoice are then re-evaluated.
   */
  applyPayment(event: AqueductEvent<InvoiceDto>): Promise<LedgerChange> {
    const id = event.object?.id;
    // No id (Aqueduct does not promise one), or one no provisioning can carry: nothing to link.
    const invoiceId =
      (typeof id === 'string' || typeof id === 'number') && String(id).length <= MAX_ID_LENGTH
        ? String(id)
        : '';
    return this.write(async (manager, evaluated) => {
      if (!invoiceId) {
        return { pairs: [], applied: false, transitions: [] };
      }
      await this.sql.lockInvoice(manager, invoiceId);
      const now = this.clock.now();
      const applied = await this.sql.recordPayment(manager, invoiceId, now, event.id);
      if (!applied || !this.options.access.requirePayment) {
        return { pairs: [], applied, transitions: [] };
      }
      const pairs = await this.sql.pairsOfInvoice(manager, invoiceId);
      const rows = await this.sql.lockAccess(manager, pairs);
      return { pairs, applied, transitions: await this.evaluate(manager, rows, now, evaluated) };
    });
  }

  /**
   * One batch of the expiry job: the rows whose next moment has come, oldest first, each
   * re-evaluated at `now`. Rows another transaction holds are skipped (it evaluates them itself).
   */
  sweepBatch(now: Date, batchSize: number): Promise<SweepBatch> {
    return this.write(async (manager, evaluated) => {
      if (!(await this.sql.tryLock(manager, SWEEP_LOCK))) {
        return { won: false, evaluated: 0, transitions: [] };
      }
      const { rows, provisionings } = await this.sql.lockDue(manager, now, batchSize);
      return {
        won: true,
        evaluated: rows.length,
        transitions: await this.evaluate(manager, rows, now, evaluated, provisionings),
      };
    });
  }

  /**
   * Runs a ledger transaction; then drops the customers it evaluated from this instance's access
   * cache (other instances hear of it from the table's trigger; this one must not wait for that
   * to read its own write), and wakes this instance's dispatcher when it wrote events.
   */
  private async write<T extends { transitions: AccessTransition[] }>(
    work: (manager: EntityManager, evaluated: Set<string>) => Promise<T>,
  ): Promise<T> {
    const evaluated = new Set<string>();
    try {
      const result = await this.dataSource.transaction((manager) => work(manager, evaluated));
      if (result.transitions.length > 0) {
        this.signal.wake();
      }
      return result;
    } finally {
      // Also after a failed commit: whether it committed cannot always be told.
      this.cache.invalidate(evaluated);
    }
  }

  /**
   * Evaluates locked access rows at `now`, read once the locks are held: a write that waited for
   * a row must not evaluate it at a moment older than what the holder just wrote. For the same
   * reason a row is never evaluated before its last evaluation (time only moves forward for it).
   * Writes what changed and the transitions.
   */
  private async evaluate(
    manager: EntityManager,
    rows: AccessRow[],
    now: Date,
    evaluated: Set<string>,
    loaded?: Map<string, ProvisioningDates[]>,
  ): Promise<AccessTransition[]> {
    if (rows.length === 0) {
      return [];
    }
    const provisionings = loaded ?? (await this.sql.provisioningsOf(manager, rows, now));
    const { requirePayment, settleMs } = this.options.access;
    const updates: Record<string, unknown>[] = [];
    const records: InternalEventRecord[] = [];
    const written: AccessTransition[] = [];
    for (const row of rows) {
      const at = latest(now, row.evaluated_at);
      const mine = provisionings.get(pairKey(row.customer_id, row.product_id)) ?? [];
      const evaluation = evaluateAccess(mine, requirePayment, at);
      const announced: AnnouncedAccess = {
        status: row.announced_status,
        accessUntil: row.announced_until,
        orgs: row.announced_orgs,
      };
      const due = transitionsDue(announced, evaluation, at, settleMs, row.loss_observed_at);
      const nextCheckAt = earliest(evaluation.nextChangeAt, due.settlesAt);
      due.transitions.forEach((transition, index) => {
        records.push(
          this.transitionRecord(row, evaluation, transition, row.announce_seq + index + 1, at),
        );
        written.push(transition);
      });
      const update = accessUpdate(row, evaluation, due, nextCheckAt);
      if (update) {
        updates.push({ ...update, evaluated_at: at });
        evaluated.add(row.customer_id);
      }
    }
    await this.sql.updateAccess(manager, updates);
    await this.inbox.storeWithin(manager, records);
    return written;
  }

  /** An `access.*` event: the transition, and the access it leaves, for every listener. */
  private transitionRecord(
    row: AccessRow,
    evaluation: AccessEvaluation,
    transition: AccessTransition,
    seq: number,
    now: Date,
  ): InternalEventRecord {
    const { next, previous } = transition;
    // Dates become ISO strings in the stored JSON, as `AccessEventObject` says.
    const object: Omit<
      AccessEventObject,
      'at' | 'startDate' | 'endDate' | 'accessUntil' | 'previousAccessUntil'
    > &
      Record<string, unknown> = {
      accessId: row.id,
      customerId: row.customer_id,
      productId: row.product_id,
      status: evaluation.status,
      previousStatus: previous.status,
      at: transition.at,
      startDate: evaluation.since,
      endDate: evaluation.paidUntil,
      accessUntil: next.accessUntil,
      previousAccessUntil: previous.accessUntil,
      provisioningOrgs: next.orgs,
      // Only when they differ: an expiry's recipients are its previous orgs already.
      previousOrgs: next.orgs === previous.orgs ? undefined : previous.orgs,
      provisionings: evaluation.granting,
    };
    return {
      dedupKey: `access:${row.id}:${seq}`,
      type: transition.type,
      createdAt: now,
      payload: { type: transition.type, createdAt: now, object },
      listeners: this.listeners.namesFor(transition.type),
    };
  }
}

function uniquePairs(pairs: Pair[]): Pair[] {
  return pairs.filter((pair, index) => pairs.findIndex((p) => samePair(p, pair)) === index);
}

function latest(a: Date, b: Date | null): Date {
  return b && b.getTime() > a.getTime() ? b : a;
}

function earliest(a: Date | null, b: Date | null): Date | null {
  if (!a || !b) {
    return a ?? b;
  }
  return a.getTime() <= b.getTime() ? a : b;
}

/**
 * The columns of an access row to write, or null when nothing changed (no write, no new version).
 * The jsonb columns are sent only when they changed (null keeps them): the expiry job's rows keep
 * their timeline and orgs, and a batch's statement stays small.
 */
function accessUpdate(
  row: AccessRow,
  evaluation: AccessEvaluation,
  { announced, transitions, lossObservedAt }: DueTransitions,
  nextCheckAt: Date | null,
): Record<string, unknown> | null {
  const timeline = sameTimeline(row.timeline, evaluation.timeline) ? null : evaluation.timeline;
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
        Date.parse(segment.from) === computed[i].from.getTime() &&
        Date.parse(segment.until) === computed[i].until.getTime(),
    )
  );
}
