import type { EntityManager } from 'typeorm';
import type { ProvisioningDto } from '../events/provisioning.dto';
import type { AqueductEvent } from '../events/aqueduct-event.interface';
import type { InlineStatement } from '../storage/opening-transaction';
import { isRecord } from '../utils/is-record';
import type { ProvisioningDates } from './access-timeline.interfaces';
import { INVOICE_LOCK_CLASS, PROVISIONING_LOCK_CLASS } from './aqueduct-ledger.constants';
import {
  FILL_PROVISIONING_SQL,
  LOCK_ACCESS_SQL,
  LOCK_DUE_SQL,
  LOCK_KEY_SQL,
  LOCK_OR_CREATE_ACCESS_SQL,
  LOCK_OR_CREATE_PROVISIONED_SQL,
  LOCK_PROVISIONING_SQL,
  LOCK_STORED_INVOICE_SQL,
  PAIRS_OF_INVOICE_SQL,
  PROVISIONINGS_SQL,
  RECORD_PAYMENT_SQL,
  TRY_LOCK_SQL,
  UPDATE_ACCESS_SQL,
  UPSERT_PROVISIONING_SQL,
} from './aqueduct-ledger.queries';
import {
  type AccessRow,
  type DueRow,
  type Pair,
  type ProvisioningRow,
  columns,
  dueProvisionings,
  provisioningsByPair,
  toPairs,
} from './aqueduct-ledger.rows';

export {
  ADAPTER_LOCK_CLASS,
  INVOICE_LOCK_CLASS,
  PROVISIONING_LOCK_CLASS,
  SWEEP_LOCK,
} from './aqueduct-ledger.constants';
export { type AccessRow, type Pair, pairKey, samePair } from './aqueduct-ledger.rows';

/**
 * The statements of the ledger, each run in the caller's transaction (the opening ones by
 * `openingTransaction`, in its first round trip).
 */
export class LedgerSql {
  /**
   * @param heldMs How far before the moment a provisioning's users are read for (and a window
   * may still grant from) they are read too: a provisioning that ended then may be in its renewal
   * window, which keeps its users (`evaluateAccess`).
   */
  constructor(private readonly heldMs = 0) {}

  /** The moment from which provisionings' users are read, for an evaluation from `from` on. */
  private usersFrom(from: Date): Date {
    return new Date(from.getTime() - this.heldMs);
  }

  /** Opening statement: takes the lock of one invoice until the transaction ends. */
  invoiceLock(invoiceId: string): InlineStatement {
    return { text: LOCK_KEY_SQL, values: [INVOICE_LOCK_CLASS, invoiceId] };
  }

  /**
   * Opening statements: the lock of the invoice a provisioning event (about `key`) concerns, so
   * that it and an `invoice.paid` of that invoice never miss each other: the one it names, or,
   * when it leaves its invoice out (the provisioning keeps its own), the provisioning's. An event
   * that says it has none takes none.
   */
  invoiceLocks(key: string, event: AqueductEvent<ProvisioningDto>): InlineStatement[] {
    const invoiceId = event.object.invoiceId;
    if (invoiceId) {
      return [this.invoiceLock(invoiceId)];
    }
    return names(event, 'invoiceId')
      ? []
      : [{ text: LOCK_STORED_INVOICE_SQL, values: [INVOICE_LOCK_CLASS, key] }];
  }

  /** Opening statement: takes an advisory lock unless another holds it (one row: `won`). */
  tryLock(key: number): InlineStatement {
    return { text: TRY_LOCK_SQL, values: [key] };
  }

  /**
   * Opening statements: lock a provisioning (`key`), whether it exists or not, so that nothing
   * moves it to another pair while the transaction's first round trip reads it three times; the
   * last one's rows tell whose it was.
   */
  provisioningLock(key: string): InlineStatement[] {
    return [
      { text: LOCK_KEY_SQL, values: [PROVISIONING_LOCK_CLASS, key] },
      { text: LOCK_PROVISIONING_SQL, values: [key] },
    ];
  }

  /**
   * Opening statement, after `provisioningLock`: locks (creating the missing ones) the access rows
   * of the pairs a provisioning event concerns, its own and the provisioning's until now.
   */
  lockProvisioned(own: Pair, key: string): InlineStatement {
    return { text: LOCK_OR_CREATE_PROVISIONED_SQL, values: [own.customerId, own.productId, key] };
  }

  /**
   * Opening statement, after `invoiceLock`: the pairs of the invoice's provisionings that a payment
   * naming `customerId` (or `NO_CUSTOMER`) pays.
   */
  pairsOfInvoice(invoiceId: string, customerId: string): InlineStatement {
    return { text: PAIRS_OF_INVOICE_SQL, values: [invoiceId, customerId] };
  }

  /** Locks the pairs' access rows in one order (no deadlocks), creating the missing ones. */
  async lockAccess(manager: EntityManager, pairs: Pair[]): Promise<AccessRow[]> {
    if (pairs.length === 0) {
      return [];
    }
    const rows: AccessRow[] = await manager.query(LOCK_OR_CREATE_ACCESS_SQL, columns(pairs));
    // Short only when another transaction inserted a pair meanwhile: its row is committed now.
    return rows.length === pairs.length ? rows : this.relockAccess(manager, pairs);
  }

  /**
   * Locks the pairs' access rows in one order, all of which exist: after a lock-or-create came back
   * short (a pair another transaction created, committed once the insert had waited for it).
   */
  relockAccess(manager: EntityManager, pairs: Pair[]): Promise<AccessRow[]> {
    return manager.query(LOCK_ACCESS_SQL, columns(pairs));
  }

  /** The due rows, locked, and the provisionings of each, by pair. */
  async lockDue(
    manager: EntityManager,
    now: Date,
    limit: number,
  ): Promise<{ rows: AccessRow[]; provisionings: Map<string, ProvisioningDates[]> }> {
    const rows: DueRow[] = await manager.query(LOCK_DUE_SQL, [now, limit, this.usersFrom(now)]);
    return { rows, provisionings: dueProvisionings(rows) };
  }

  /**
   * Opening statements, after `lockProvisioned`: apply a provisioning event (an older one fills in
   * what newer ones left out: FILL_PROVISIONING_SQL; a newer one replaces: UPSERT_PROVISIONING_SQL)
   * and read the provisionings of its pairs as they then are, with the orgs of any that may grant
   * access from `from` on (the last statement's rows: `upsertedProvisionings` reads them).
   */
  upsertProvisioning(
    key: string,
    event: AqueductEvent<ProvisioningDto>,
    rank: number,
    from: Date,
  ): [fill: InlineStatement, upsert: InlineStatement] {
    const { object } = event;
    const endDate = object.endDate;
    const grace = object.gracePeriodEndDate ?? null;
    // Named when given, null included (an explicit "no grace"); left out keeps the stored one.
    const namesGrace = object.gracePeriodEndDate !== undefined;
    // An event that names no orgs keeps those the provisioning has (see UPSERT_PROVISIONING_SQL).
    const orgs = names(event, 'provisioningOrgs')
      ? JSON.stringify(object.provisioningOrgs ?? [])
      : null;
    const createdAt = event.createdAt ?? event.receivedAt;
    const id = object.id;
    const fill = {
      text: FILL_PROVISIONING_SQL,
      values: [key, namesGrace, grace, endDate, orgs, createdAt, rank],
    };
    const upsert = {
      text: UPSERT_PROVISIONING_SQL,
      values: [
        key,
        typeof id === 'string' || typeof id === 'number' ? String(id) : null,
        object.customerId,
        object.productId,
        object.subscriptionId ?? null,
        object.invoiceId ?? null,
        object.startDate,
        endDate,
        grace,
        object.contractStartDate ?? null,
        object.contractEndDate ?? null,
        // A grace period never ends access before the paid period does.
        grace && grace.getTime() > endDate.getTime() ? grace : endDate,
        orgs,
        object.metadata ? JSON.stringify(object.metadata) : null,
        event.id,
        event.type,
        createdAt,
        rank,
        this.usersFrom(from),
        namesGrace,
        // Left out keeps the stored invoice: it must not stop waiting for its payment.
        names(event, 'invoiceId'),
      ],
    };
    return [fill, upsert];
  }

  /**
   * Opening statement, after `invoiceLock`: records an invoice's first payment naming `customerId`
   * (`NO_CUSTOMER` when it names none); a row when it was the first.
   */
  recordPayment(
    invoiceId: string,
    customerId: string,
    paidAt: Date,
    eventId: string,
  ): InlineStatement {
    return { text: RECORD_PAYMENT_SQL, values: [invoiceId, customerId, paidAt, eventId] };
  }

  /** The provisionings of each row's (customer, product), by pair. */
  async provisioningsOf(
    manager: EntityManager,
    rows: AccessRow[],
    now: Date,
  ): Promise<Map<string, ProvisioningDates[]>> {
    const found: ProvisioningRow[] = await manager.query(PROVISIONINGS_SQL, [
      ...columns(toPairs(rows)),
      this.usersFrom(now),
    ]);
    return provisioningsByPair(found);
  }

  /** Closing statement: writes the evaluated access rows (see UPDATE_ACCESS_SQL). */
  accessUpdate(updates: Record<string, unknown>[]): InlineStatement {
    const ids = updates.map((update) => update.id as string);
    return { text: UPDATE_ACCESS_SQL, values: [JSON.stringify(updates), `{${ids.join(',')}}`] };
  }
}

/**
 * Whether the event's body names a field of the provisioning (`null` is not naming it for the
 * orgs; it is for the invoice: "no invoice"). The DTO reads a missing `provisioningOrgs` as none;
 * an `end` or an `update` that leaves them out is not taking every user's access away (the grace
 * period's users, and its mails, would be gone), nor one that leaves out `invoiceId` paying for it.
 */
function names(
  event: AqueductEvent<ProvisioningDto>,
  field: 'provisioningOrgs' | 'invoiceId',
): boolean {
  const object = event.payload?.object;
  if (!isRecord(object)) {
    return true;
  }
  return field === 'invoiceId'
    ? object.invoiceId !== undefined
    : object.provisioningOrgs !== undefined && object.provisioningOrgs !== null;
}
