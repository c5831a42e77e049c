import { randomUUID } from 'node:crypto';
import { AqueductEventType } from '../events/aqueduct-event-types';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A Provisioning object as Aqueduct sends it (dates as ISO strings). */
export interface ProvisioningPayload {
  productId: string;
  customerId: string;
  startDate: string;
  endDate: string;
  invoiceId: string | null;
  subscriptionId: string | null;
  metadata: Record<string, unknown>;
  externalSubscriptionId: unknown;
  provisioningOrgs: unknown;
  contractStartDate: string;
  contractEndDate: string;
  gracePeriodEndDate: string;
  [extra: string]: unknown;
}

/** The envelope every Aqueduct event shares. */
export interface AqueductEventPayload<T = unknown> {
  createdAt: string;
  type: string;
  object: T;
  [extra: string]: unknown;
}

/** A realistic Provisioning object: a 30-day period from now and a 7-day grace period. */
export function provisioningObject(
  overrides: Partial<ProvisioningPayload> = {},
): ProvisioningPayload {
  const start = new Date();
  const end = new Date(start.getTime() + 30 * DAY_MS);
  const customerId = overrides.customerId ?? `owner_${randomUUID().slice(0, 8)}`;
  return {
    productId: 'prod_pro',
    customerId,
    startDate: start.toISOString(),
    endDate: end.toISOString(),
    invoiceId: `inv_${randomUUID().slice(0, 8)}`,
    subscriptionId: `sub_${randomUUID().slice(0, 8)}`,
    metadata: { customerId },
    externalSubscriptionId: null,
    provisioningOrgs: [
      {
        name: 'Acme Inc.',
        users: [
          { name: 'Ada Lovelace', email: 'ada@acme.test' },
          { name: 'Alan Turing', email: 'alan@acme.test' },
        ],
      },
    ],
    contractStartDate: start.toISOString(),
    contractEndDate: end.toISOString(),
    gracePeriodEndDate: new Date(end.getTime() + 7 * DAY_MS).toISOString(),
    ...overrides,
  };
}

function envelope<T>(type: string, object: T, createdAt = new Date()): AqueductEventPayload<T> {
  return { createdAt: createdAt.toISOString(), type, object };
}

export const provisioningStartEvent = (
  overrides: Partial<ProvisioningPayload> = {},
  createdAt?: Date,
) => envelope(AqueductEventType.ProvisioningStart, provisioningObject(overrides), createdAt);

export const provisioningEndEvent = (
  overrides: Partial<ProvisioningPayload> = {},
  createdAt?: Date,
) => envelope(AqueductEventType.ProvisioningEnd, provisioningObject(overrides), createdAt);

export const invoicePaidEvent = (overrides: Record<string, unknown> = {}, createdAt?: Date) =>
  envelope(
    AqueductEventType.InvoicePaid,
    {
      id: `inv_${randomUUID().slice(0, 8)}`,
      status: 'paid',
      total: 4900,
      currency: 'usd',
      ...overrides,
    },
    createdAt,
  );

/** Any event type, e.g. one Aqueduct adds later. */
export const aqueductEvent = <T>(type: string, object: T, createdAt?: Date) =>
  envelope(type, object, createdAt);

/** A subscription as Aqueduct bills it: one provisioning per period, each with its own invoice. */
export interface SubscriptionOptions {
  customerId?: string;
  productId?: string;
  /** @default `sub_<random>` */
  subscriptionId?: string;
  /** Start of the first period. @default `clock.now()`, else now */
  start?: Date;
  /** Length of each paid period, in days. @default 30 */
  periodDays?: number;
  /** Grace after each period, in days; null for none (a trial). @default 7 */
  graceDays?: number | null;
  /** The orgs and users of every period. @default one org with two users */
  provisioningOrgs?: unknown;
  /** The app's clock (an `AqueductTestClock`): dates default to its now. */
  clock?: { now(): Date };
}

/**
 * A subscription's lifecycle, consistent from one event to the next: `start(0)` and `end(0)` are
 * the same provisioning (same invoice, same dates), `start(1)` is its renewal (the next period,
 * its own invoice), `cancel(0, at)` ends period 0 early, `paid(1)` pays period 1's invoice. Each
 * event is created when Aqueduct would send it (at the period's start or end) unless given.
 */
export class AqueductSubscription {
  readonly customerId: string;
  readonly productId: string;
  readonly subscriptionId: string;
  private readonly start0: Date;
  private readonly periodDays: number;
  private readonly graceDays: number | null;
  private readonly orgs: unknown;

  constructor(options: SubscriptionOptions = {}) {
    this.customerId = options.customerId ?? `owner_${randomUUID().slice(0, 8)}`;
    this.productId = options.productId ?? 'prod_pro';
    this.subscriptionId = options.subscriptionId ?? `sub_${randomUUID().slice(0, 8)}`;
    this.start0 = options.start ?? options.clock?.now() ?? new Date();
    this.periodDays = options.periodDays ?? 30;
    this.graceDays = options.graceDays === undefined ? 7 : options.graceDays;
    this.orgs = options.provisioningOrgs ?? provisioningObject().provisioningOrgs;
  }

  /** The Provisioning object of period `n` (0 is the first). */
  period(n = 0, overrides: Partial<ProvisioningPayload> = {}): ProvisioningPayload {
    const start = new Date(this.start0.getTime() + n * this.periodDays * DAY_MS);
    const end = new Date(start.getTime() + this.periodDays * DAY_MS);
    const grace =
      this.graceDays === null ? undefined : new Date(end.getTime() + this.graceDays * DAY_MS);
    const object = provisioningObject({
      customerId: this.customerId,
      productId: this.productId,
      subscriptionId: this.subscriptionId,
      invoiceId: `inv_${this.subscriptionId}_${n + 1}`,
      startDate: start.toISOString(),
      endDate: end.toISOString(),
      contractStartDate: start.toISOString(),
      contractEndDate: end.toISOString(),
      provisioningOrgs: this.orgs,
      ...overrides,
    });
    if (!grace) {
      delete (object as Partial<ProvisioningPayload>).gracePeriodEndDate;
    } else if (!overrides.gracePeriodEndDate) {
      object.gracePeriodEndDate = grace.toISOString();
    }
    return object;
  }

  /** `provisioning.start` of period `n`, created at its start date unless given. */
  start(n = 0, createdAt?: Date): AqueductEventPayload<ProvisioningPayload> {
    const object = this.period(n);
    return envelope(
      AqueductEventType.ProvisioningStart,
      object,
      createdAt ?? new Date(object.startDate),
    );
  }

  /** `provisioning.end` of period `n`, created at its end date unless given. */
  end(n = 0, createdAt?: Date): AqueductEventPayload<ProvisioningPayload> {
    const object = this.period(n);
    return envelope(
      AqueductEventType.ProvisioningEnd,
      object,
      createdAt ?? new Date(object.endDate),
    );
  }

  /** Period `n` cancelled at `at`: its end comes early, with its grace from then (or none). */
  cancel(n: number, at: Date, graceDays: number | null = this.graceDays): AqueductEventPayload {
    const object = this.period(n, { endDate: at.toISOString() });
    if (graceDays === null) {
      delete (object as Partial<ProvisioningPayload>).gracePeriodEndDate;
    } else {
      object.gracePeriodEndDate = new Date(at.getTime() + graceDays * DAY_MS).toISOString();
    }
    return envelope(AqueductEventType.ProvisioningEnd, object, at);
  }

  /** `invoice.paid` for period `n`'s invoice, created at its start unless given. */
  paid(n = 0, createdAt?: Date): AqueductEventPayload {
    const object = this.period(n);
    return invoicePaidEvent({ id: object.invoiceId }, createdAt ?? new Date(object.startDate));
  }
}

/** Shorthand: `aqueductSubscription({ customerId: 'owner_1' }).start(0)`. */
export const aqueductSubscription = (options: SubscriptionOptions = {}) =>
  new AqueductSubscription(options);
