import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AccessEventType } from '../events/access-event-types';
import { ADAPTER_LOCK_CLASS, type AccessRow, type Pair } from './aqueduct-ledger.sql';
import { pairKey } from './aqueduct-ledger.rows';
import { sameOrgs } from './access-timeline.orgs';
import {
  PROVISIONING_ADAPTER,
  type ProvisioningAdapter,
  type ProductHolding,
  type ProvisioningGrant,
} from '../options/provisioning-adapter.interface';
import type { DeliveryFinish } from '../dispatch/delivery.finish';
import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import { openingTransaction } from '../storage/opening-transaction';
import { Semaphore } from '../utils/semaphore';
import { poolSizeOf } from '../storage/pool-size';

type AdapterAction = 'provision' | 'deprovision' | 'update';

const ROW_SQL = `SELECT * FROM aqueduct_access WHERE customer_id = $1 AND product_id = $2`;

/** Records what the adapter holds for an access row (`$1`): provisioned (`$2`), with these orgs (`$3`). */
const RECORD_PROVISIONED_SQL = `
UPDATE aqueduct_access
   SET provisioned = $2, provisioned_orgs = $3::jsonb, adapter_seq = adapter_seq + 1,
       version = version + 1, updated_at = now()
 WHERE id = $1`;

/** Takes the adapter's lock of one pair (`$2`, `$3`, in the class `$1`) until the transaction ends. */
const LOCK_PAIR_SQL = `SELECT pg_advisory_xact_lock($1, hashtext($2 || '/' || $3))`;

/**
 * Takes the adapter's lock of one customer (`$2`, in the class `$1`): every call for the customer
 * waits for the others, so what it reads of their other products (`OTHER_PRODUCTS_SQL`) stays true
 * until it has run. Without it, two products deprovisioned at once would each find the other still
 * held, and neither would disable the users they share. Taken before the pair's lock, which
 * instances of 0.10 take alone, so calls of both releases exclude each other during a deploy.
 */
const LOCK_CUSTOMER_SQL = `SELECT pg_advisory_xact_lock($1, hashtext($2))`;

/** What the adapter holds for the customer's (`$1`) products other than `$2`. */
const OTHER_PRODUCTS_SQL = `SELECT product_id, provisioned_orgs FROM aqueduct_access
  WHERE customer_id = $1 AND product_id <> $2 AND provisioned ORDER BY product_id`;

/** The reason given when the row does not name its last transition (rows carried over). */
const DEFAULT_REASON: Record<AdapterAction, string> = {
  provision: AccessEventType.Started,
  deprovision: AccessEventType.Expired,
  update: AccessEventType.Changed,
};

/**
 * Brings the host's adapter in step with what was last announced for a customer's access to a
 * product: provisioned while access is announced, deprovisioned once its end is, updated when the
 * announced users differ from those provisioned. It compares states rather than replaying events,
 * so any delivery may call it, in any order, any number of times: a call that finds the adapter
 * in step does nothing. An advisory lock per customer (and per pair) keeps calls from overlapping
 * without blocking the ledger, which keeps writing while a slow adapter runs; what it writes
 * meanwhile announces a transition whose own delivery reconciles again.
 */
@Injectable()
export class ProvisioningReconciler {
  /**
   * The adapter runs inside the transaction that holds the lock, so each call holds a pooled
   * connection, and a host's adapter usually queries the same database through the same pool. With
   * as many calls as connections, every call would wait for a connection none can give back, and
   * the webhook route with them (503s until the endpoint is disabled). At most half the pool runs
   * adapter calls; the rest serves the adapters' own queries, the webhook route and the dispatcher.
   */
  private readonly calls: Semaphore;
  /**
   * Locked calls running in this process, by pair. The `access.*` deliveries of one write (or of
   * writes in quick succession) start at the same moment and reconcile the same pair: the later
   * call waits here for the earlier one, then finds the adapter in step with one read, instead of
   * queueing on the advisory lock with a pooled connection held.
   */
  private readonly running = new Map<string, Promise<AdapterHolding | undefined>>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(PROVISIONING_ADAPTER) private readonly adapter: ProvisioningAdapter,
  ) {
    this.calls = new Semaphore(Math.max(1, Math.floor(poolSizeOf(dataSource) / 2)));
  }

  /**
   * @param outOfStep the caller's transition calls for an adapter call, so the adapter is (almost
   *   surely) behind: skip the unlocked read, the locked one decides.
   * @param finish the caller's delivery's `done`, committed with the locked call's record when
   *   there is one (this is the caller's last step).
   */
  async reconcile(pair: Pair, outOfStep = false, finish?: DeliveryFinish): Promise<void> {
    const running = this.running.get(pairKey(pair.customerId, pair.productId));
    if (running) {
      // Its failure is its caller's to report; this call then finds the work still to do.
      await running.catch(() => undefined);
      outOfStep = false;
    }
    if (!outOfStep) {
      // Most calls find the adapter in step (the delivery that got there first did the work): one
      // read, no transaction, no lock.
      const [current]: AccessRow[] = await this.dataSource.query(ROW_SQL, [
        pair.customerId,
        pair.productId,
      ]);
      if (!current || !actionFor(current)) {
        return;
      }
    }
    await this.callLocked(pair, finish);
  }

  /**
   * What the adapter holds for the pair once in step with what was announced (undefined: no access
   * row), for a caller that acts on it (the welcome mail: only to users provisioned). A call for the
   * pair running here is waited for, and its failure fails this one. With the adapter behind and
   * nothing running, `mayCall` makes the call (as `reconcile` would: the caller got there before
   * the adapter's own delivery); without it, this fails and leaves the calls to that delivery, so
   * that an adapter that is down is not called twice as often.
   */
  async holding(pair: Pair, mayCall: boolean): Promise<AdapterHolding | undefined> {
    await this.running.get(pairKey(pair.customerId, pair.productId));
    const [current]: AccessRow[] = await this.dataSource.query(ROW_SQL, [
      pair.customerId,
      pair.productId,
    ]);
    if (!current) {
      return undefined;
    }
    if (!actionFor(current)) {
      return holdingOf(current);
    }
    if (!mayCall) {
      throw new Error('the provisioning adapter has not brought these users in step yet');
    }
    return this.callLocked(pair);
  }

  /** The locked call, known to this process's other callers for the pair while it runs. */
  private async callLocked(pair: Pair, finish?: DeliveryFinish) {
    const key = pairKey(pair.customerId, pair.productId);
    const call = this.calls.run(() => this.reconcileLocked(pair, finish));
    this.running.set(key, call);
    try {
      return await call;
    } finally {
      if (this.running.get(key) === call) {
        this.running.delete(key);
      }
    }
  }

  /**
   * The adapter call, under the (customer, product) lock, when one is still needed: the lock and
   * the row's read go with the transaction's start, the record of the call (and `finish`) with its
   * commit. Returns what the adapter then holds.
   */
  private async reconcileLocked(
    pair: Pair,
    finish?: DeliveryFinish,
  ): Promise<AdapterHolding | undefined> {
    const opening = [
      { text: LOCK_CUSTOMER_SQL, values: [ADAPTER_LOCK_CLASS, pair.customerId] },
      { text: LOCK_PAIR_SQL, values: [ADAPTER_LOCK_CLASS, pair.customerId, pair.productId] },
      { text: ROW_SQL, values: [pair.customerId, pair.productId] },
      { text: OTHER_PRODUCTS_SQL, values: [pair.customerId, pair.productId] },
    ];
    const held = await openingTransaction(
      this.dataSource,
      opening,
      async (_manager, [, , rows, others], close) => {
        finish?.carry(close);
        const row = rows[0] as AccessRow | undefined;
        const action = row && actionFor(row);
        if (!action) {
          return row && holdingOf(row);
        }
        const grant = grantOf(row, action, others as OtherProductRow[]);
        if (action === 'provision') {
          await this.adapter.provision(grant);
        } else if (action === 'deprovision') {
          await this.adapter.deprovision(grant);
        } else {
          await this.adapter.update(grant, row.provisioned_orgs ?? []);
        }
        const holding = {
          provisioned: action !== 'deprovision',
          orgs: action === 'deprovision' ? [] : grant.orgs,
        };
        // What the adapter now holds, written with the commit (one round trip).
        close({
          text: RECORD_PROVISIONED_SQL,
          values: [
            row.id,
            holding.provisioned,
            holding.provisioned ? JSON.stringify(holding.orgs) : null,
          ],
        });
        return holding;
      },
    );
    finish?.committed();
    return held;
  }
}

/** What the host's adapter holds for a (customer, product): provisioned or not, with these orgs. */
export interface AdapterHolding {
  provisioned: boolean;
  orgs: ProvisioningOrgDto[];
}

function holdingOf(row: AccessRow): AdapterHolding {
  return {
    provisioned: row.provisioned,
    orgs: row.provisioned ? (row.provisioned_orgs ?? []) : [],
  };
}

function actionFor(row: AccessRow): AdapterAction | null {
  const announced = row.announced_status === 'active' || row.announced_status === 'grace';
  if (announced && !row.provisioned) {
    return 'provision';
  }
  if (!announced && row.provisioned) {
    return 'deprovision';
  }
  if (announced && !sameOrgs(row.provisioned_orgs ?? [], row.announced_orgs)) {
    return 'update';
  }
  return null;
}

/** A row of `OTHER_PRODUCTS_SQL`. */
interface OtherProductRow {
  product_id: string;
  provisioned_orgs: ProvisioningOrgDto[] | null;
}

/** The users (lowercased addresses) the adapter holds for each of the customer's other products. */
function otherProductsOf(rows: OtherProductRow[]): ProductHolding[] {
  return rows.map((row) => ({
    productId: row.product_id,
    emails: [
      ...new Set(
        (row.provisioned_orgs ?? []).flatMap((org) =>
          (org.users ?? []).flatMap((user) => (user.email ? [user.email.toLowerCase()] : [])),
        ),
      ),
    ],
  }));
}

function grantOf(
  row: AccessRow,
  action: AdapterAction,
  others: OtherProductRow[],
): ProvisioningGrant {
  const orgs = action === 'deprovision' ? (row.provisioned_orgs ?? []) : row.announced_orgs;
  const otherProducts = otherProductsOf(others);
  return {
    accessId: row.id,
    customerId: row.customer_id,
    productId: row.product_id,
    orgs,
    status: row.announced_status === 'none' ? 'expired' : row.announced_status,
    since: action === 'deprovision' ? null : row.since,
    accessUntil: row.announced_until,
    paidUntil: action === 'deprovision' ? null : row.paid_until,
    reason: row.last_transition ?? DEFAULT_REASON[action],
    otherProducts,
    // The call's number for this access, and what it asks for: the same on a retry after a
    // failure or a crash, another when the users changed before the retry (a user service that
    // honours keys would answer the new request from the old one's cache: seats lost). The users
    // other products hold change which of them a deprovision disables: part of the request too.
    idempotencyKey: `${row.id}:${row.adapter_seq + 1}:${action}:${digestOf(
      otherProducts.length > 0 ? [orgs, otherProducts] : orgs,
    )}`,
  };
}

/** Length of the orgs' digest in a key: enough to tell two requests of one call apart. */
const ORGS_DIGEST_LENGTH = 16;

function digestOf(request: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify(request))
    .digest('hex')
    .slice(0, ORGS_DIGEST_LENGTH);
}
