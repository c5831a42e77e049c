import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { AqueductDispatcher } from '../dispatch/aqueduct-dispatcher.service';
import type { DeliveryFinish } from '../dispatch/delivery.finish';
import { DispatchSignal } from '../storage/dispatch-signal';
import type { InvoiceDto } from '../events/invoice.dto';
import { MAX_ID_LENGTH, type ProvisioningDto } from '../events/provisioning.dto';
import type { AqueductEvent } from '../events/aqueduct-event.interface';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import {
  AqueductInbox,
  type InternalEventRecord,
  type StoredInternalEvent,
} from '../storage/aqueduct-inbox.service';
import {
  type Close,
  type InlineStatement,
  openingTransaction,
} from '../storage/opening-transaction';
import { AccessCache } from './access-cache';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import { type ProvisioningDates, evaluateAccess } from './access-timeline';
import { type AccessTransition, type AnnouncedAccess, transitionsDue } from './access-transitions';
import { EVENT_RANK, NO_CUSTOMER, SWEEP_LOCK } from './aqueduct-ledger.constants';
import { LedgerHandoff } from './aqueduct-ledger.handoff';
import type { LedgerChange, SweepBatch } from './aqueduct-ledger.interfaces';
import { transitionRecord } from './aqueduct-ledger.record';
import {
  type AccessRow,
  type Pair,
  type PairRow,
  type UpsertedRow,
  pairKey,
  toPairs,
  uniquePairs,
  upsertedProvisionings,
} from './aqueduct-ledger.rows';
import { LedgerSql } from './aqueduct-ledger.sql';
import { accessUpdate } from './aqueduct-ledger.update';
import { provisioningKey } from './provisioning.key';
import { printable } from '../utils/printable';
import { ReceiverUptime } from './receiver-uptime';
import { type RenewalWindow, longestWindowMs } from './renewal-window';

export type { LedgerChange, SweepBatch } from './aqueduct-ledger.interfaces';
export { provisioningKey } from './provisioning.key';

/** An evaluation for an event just applied: what it finds pending is news (see `transitionsDue`). */
const NEWS = true;
/** A loss held because the receiver's record could not be read is looked at again this soon. */
const UNCONFIRMED_RECHECK_MS = 60_000;

/**
 * The access ledger's writes. Every change to a customer's access to a product happens under that
 * (customer, product)'s row lock, in one transaction: the provisioning (or payment) is written,
 * the union of the customer's windows is evaluated, and each transition it yields is written into
 * the inbox as an `access.*` event with its deliveries. So the access row, the announcement and
 * the work it causes commit together, whatever instance runs it, and a retry finds nothing new.
 */
@Injectable()
export class AqueductLedger {
  private readonly logger = new Logger('AqueductAccess');
  private readonly sql: LedgerSql;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly listeners: AqueductListenerRegistry,
    private readonly inbox: AqueductInbox,
    private readonly signal: DispatchSignal,
    private readonly cache: AccessCache,
    private readonly dispatcher: AqueductDispatcher,
    private readonly uptime: ReceiverUptime,
  ) {
    this.sql = new LedgerSql(longestWindowMs(options.access.settleMs));
  }

  /**
   * Applies a `provisioning.*` event when it is newer (envelope time, then start < update < end)
   * than the last one applied to its provisioning, then re-evaluates the customer's access.
   * `finish` (its delivery's `done`) commits with the write when nothing is left to do after it.
   */
  applyProvisioning(
    event: AqueductEvent<ProvisioningDto>,
    finish?: DeliveryFinish,
  ): Promise<LedgerChange> {
    const object = event.object;
    const key = provisioningKey(object);
    const own: Pair = { customerId: object.customerId, productId: object.productId };
    // Read before the locks; the provisionings come with the orgs of any that may grant access
    // from then on, so whatever moment the evaluation is made at once they are held, it has them.
    const from = this.clock.now();
    // One round trip: serialises it with an `invoice.paid` for the same invoice, so neither misses
    // the other; locks the provisioning, which may have been under another customer or product
    // before (both change, and nothing moves it meanwhile); locks or creates the access rows of
    // both; then writes the provisioning and reads theirs.
    const opening = [
      ...this.sql.invoiceLocks(key, event),
      ...this.sql.provisioningLock(key),
      this.sql.lockProvisioned(own, key),
      ...this.sql.upsertProvisioning(key, event, EVENT_RANK[event.type] ?? 0, from),
    ];
    return this.write(
      opening,
      async (manager, scope, opened) => {
        const [previous, locked, , upserted] = opened.slice(-4) as [
          PairRow[],
          AccessRow[],
          unknown[],
          UpsertedRow[],
        ];
        const pairs = uniquePairs([own, ...toPairs(previous)]);
        const now = this.clock.now();
        const written = upsertedProvisionings(upserted);
        let { provisionings } = written;
        // Short when another transaction created one of the rows first (committed by the time the
        // insert had waited for it): its provisionings are read again under the lock, as are those
        // of a clock that went back (it may want orgs the read left out).
        const short = locked.length < pairs.length;
        const rows = short ? await this.sql.relockAccess(manager, pairs) : locked;
        if (short || now < from) {
          provisionings = await this.sql.provisioningsOf(manager, rows, now);
        }
        return {
          pairs,
          applied: written.applied,
          transitions: await this.evaluate(manager, rows, now, scope, NEWS, provisionings),
        };
      },
      finish,
    );
  }

  /**
   * Records an `invoice.paid` (the first one counts: access may start from that moment). With
   * `access.requirePayment`, the provisionings of that invoice are then re-evaluated. `finish` as
   * for `applyProvisioning`.
   */
  async applyPayment(
    event: AqueductEvent<InvoiceDto>,
    finish?: DeliveryFinish,
  ): Promise<LedgerChange> {
    const id = event.object?.id;
    // No id (Aqueduct does not promise one), or one no provisioning can carry: nothing to link.
    const invoiceId =
      (typeof id === 'string' || typeof id === 'number') && String(id).length <= MAX_ID_LENGTH
        ? String(id)
        : '';
    if (!invoiceId) {
      return { pairs: [], applied: false, transitions: [] };
    }
    // Invoice ids are not promised unique across customers: a payment naming its customer pays
    // that customer's provisionings of the invoice (see PAIRS_OF_INVOICE_SQL).
    const customer = event.object.customerId;
    const customerId =
      typeof customer === 'string' && customer !== '' && customer.length <= MAX_ID_LENGTH
        ? customer
        : NO_CUSTOMER;
    const { requirePayment } = this.options.access;
    // The first payment counts, from the moment it is recorded.
    const paidAt = this.clock.now();
    // One round trip: serialises it with the provisioning events of the invoice, so neither misses
    // the other; records the payment; and, when access waits for payments, reads whose it is.
    const opening = [
      this.sql.invoiceLock(invoiceId),
      this.sql.recordPayment(invoiceId, customerId, paidAt, event.id),
      ...(requirePayment ? [this.sql.pairsOfInvoice(invoiceId, customerId)] : []),
    ];
    return this.write(
      opening,
      async (manager, scope, [, recorded, invoicePairs]) => {
        const applied = recorded.length > 0;
        if (!applied || !requirePayment) {
          return { pairs: [], applied, transitions: [] };
        }
        const pairs = toPairs(invoicePairs as PairRow[]);
        if (
          customerId !== NO_CUSTOMER &&
          pairs.length > 0 &&
          !pairs.some((pair) => pair.customerId === customerId)
        ) {
          // Not personal data: Aqueduct's ids. Said so that a mismatch of ids is seen.
          this.logger.warn(
            printable(
              `invoice.paid for ${invoiceId} names customer ${customerId}, who has no provisioning ` +
                `of it; it pays those of ${[...new Set(pairs.map((pair) => pair.customerId))].join(', ')}, ` +
                "as a payment naming no customer does (the Invoice's customerId is not the Provisioning's?)",
            ),
          );
        }
        const rows = await this.sql.lockAccess(manager, pairs);
        const now = this.clock.now();
        return {
          pairs,
          applied,
          transitions: await this.evaluate(manager, rows, now, scope, NEWS),
        };
      },
      finish,
    );
  }

  /**
   * One batch of the expiry job: the rows whose next moment has come, oldest first, each
   * re-evaluated at `now`. Rows another transaction holds are skipped (it evaluates them itself).
   */
  sweepBatch(now: Date, batchSize: number): Promise<SweepBatch> {
    return this.write([this.sql.tryLock(SWEEP_LOCK)], async (manager, scope, [[lock]]) => {
      if (!(lock as { won: boolean }).won) {
        return { won: false, evaluated: 0, transitions: [] };
      }
      const { rows, provisionings } = await this.sql.lockDue(manager, now, batchSize);
      return {
        won: true,
        evaluated: rows.length,
        transitions: await this.evaluate(manager, rows, now, scope, !NEWS, provisionings),
      };
    });
  }

  /**
   * Runs a ledger transaction, opened by `opening` (its locks, in the order they are always
   * taken, and the reads and writes that follow them) in the same round trip, and whose writes of
   * the transitions and the access rows go with its commit; then drops the customers it evaluated
   * from this instance's access cache (other instances hear of it from the table's trigger; this
   * one must not wait for that to read its own write), starts the deliveries of its transitions
   * leased here, and wakes this instance's dispatcher when it stored some pending. A write that
   * announces transitions (their own deliveries do the rest), or concerns no pair, is its
   * listener's last step: the delivery's `done` (`finish`) goes with its commit.
   */
  private async write<T extends { transitions: AccessTransition[]; pairs?: Pair[] }>(
    opening: InlineStatement[],
    work: (manager: EntityManager, scope: LedgerScope, opened: unknown[][]) => Promise<T>,
    finish?: DeliveryFinish,
  ): Promise<T> {
    // Before the transaction: a stale record is read on a connection of its own, never while
    // this one holds row locks. When it cannot be read, the write still goes (a start must not
    // wait on the heartbeat), holding every loss, and the rows are looked at again soon.
    const now = this.clock.now();
    const confirmed = await this.uptime.confirmed(now).catch(() => null);
    const window = confirmed ?? this.uptime.holdingEveryLoss();
    const recheckAt = confirmed ? null : new Date(now.getTime() + UNCONFIRMED_RECHECK_MS);
    const evaluated = new Set<string>();
    const handoff = new LedgerHandoff(this.dispatcher, (type) => this.listeners.allHere(type));
    let result: T;
    try {
      result = await openingTransaction(
        this.dataSource,
        opening,
        async (manager, opened, close) => {
          const scope = { evaluated, handoff, close, window, recheckAt };
          const written = await work(manager, scope, opened);
          if (written.transitions.length > 0 || written.pairs?.length === 0) {
            finish?.carry(close);
          }
          return written;
        },
      );
    } catch (error) {
      handoff.abandoned();
      throw error;
    } finally {
      // Also after a failed commit: whether it committed cannot always be told.
      this.cache.invalidate(evaluated);
    }
    handoff.committed();
    // Leased deliveries are running already; only pending ones need a claim.
    if (handoff.storedPending) {
      this.signal.wake();
    }
    finish?.committed();
    return result;
  }

  /**
   * Evaluates locked access rows at `now`, read once the locks are held: a write that waited for
   * a row must not evaluate it at a moment older than what the holder just wrote. For the same
   * reason a row is never evaluated before its last evaluation (time only moves forward for it).
   * Writes the transitions, and what changed in the rows (with the commit). `news`: the rows are
   * evaluated for an event just applied (a loss found pending is seen now), not by the sweep.
   */
  private async evaluate(
    manager: EntityManager,
    rows: AccessRow[],
    now: Date,
    scope: LedgerScope,
    news: boolean,
    loaded?: Map<string, ProvisioningDates[]>,
  ): Promise<AccessTransition[]> {
    if (rows.length === 0) {
      return [];
    }
    const provisionings = loaded ?? (await this.sql.provisioningsOf(manager, rows, now));
    const { requirePayment } = this.options.access;
    const updates: Record<string, unknown>[] = [];
    const records: InternalEventRecord[] = [];
    const written: AccessTransition[] = [];
    for (const row of rows) {
      const at = latest(now, row.evaluated_at);
      const mine = provisionings.get(pairKey(row.customer_id, row.product_id)) ?? [];
      const evaluation = evaluateAccess(mine, requirePayment, at, scope.window);
      const announced: AnnouncedAccess = {
        status: row.announced_status,
        accessUntil: row.announced_until,
        orgs: row.announced_orgs,
      };
      const due = transitionsDue(
        announced,
        evaluation,
        at,
        scope.window,
        row.loss_observed_at,
        news,
      );
      // A loss held without a confirmed record is looked at again soon, not at the held deadline.
      const settles =
        due.settlesAt && scope.recheckAt ? earliest(due.settlesAt, scope.recheckAt) : due.settlesAt;
      const nextCheckAt = earliest(evaluation.nextChangeAt, settles);
      due.transitions.forEach((transition, index) => {
        const seq = row.announce_seq + index + 1;
        const listeners = this.listeners.namesFor(transition.type);
        records.push(transitionRecord(row, evaluation, transition, seq, at, listeners));
        written.push(transition);
      });
      const update = accessUpdate(row, evaluation, due, nextCheckAt);
      if (update) {
        updates.push({ ...update, evaluated_at: at });
        scope.evaluated.add(row.customer_id);
      }
    }
    // Both go to Postgres with the commit; the deliveries leased here run once it succeeded.
    const lease = scope.handoff.lease(records);
    if (records.length > 0) {
      scope.close(this.inbox.storeWithCommit(records, lease), (stored) => {
        if (lease) {
          scope.handoff.stored(records, stored as StoredInternalEvent[]);
        }
      });
    }
    if (updates.length > 0) {
      scope.close(this.sql.accessUpdate(updates));
    }
    return written;
  }
}

/** What one ledger transaction collects for after its commit. */
interface LedgerScope {
  /** Sends a last write with the commit (`openingTransaction`). */
  close: Close;
  /** Customers whose access rows it rewrote: dropped from this instance's access cache. */
  evaluated: Set<string>;
  handoff: LedgerHandoff;
  /** The renewal windows losses are announced with, confirmed before the transaction began. */
  window: RenewalWindow;
  /** Without a confirmed record: when to look again at a loss it held (else null). */
  recheckAt: Date | null;
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
