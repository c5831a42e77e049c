import fc from 'fast-check';

/**
 * Random subscription histories for the property test, and the small reference model the ledger
 * is checked against. The model knows nothing of the library: a provisioning is identified by
 * Aqueduct's id, else its invoice, else its subscription and start; the newest event about it
 * (envelope time, then start < end) says its dates, and the newest that named a grace period
 * its grace, as a length from its end (an end may leave it out); access at a moment is whether some known
 * provisioning's window [start, max(end, grace)) holds it; with payment required, a provisioning
 * with an invoice opens only once the payment arrived, and not before it.
 */

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Aqueduct's retry delays, and deliveries that are on time or minutes late. */
const DELAYS = [0, 0, 0, 60_000, 30 * 60_000, HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 43 * HOUR];

export interface PeriodPlan {
  /** Switch to the other product (an upgrade or a downgrade). */
  switchProduct: boolean;
  /** Days between the previous period's end and this start: 0 on time, < 0 overlap, > 0 a gap. */
  gapDays: number;
  days: number;
  graceDays: number | null;
  keying: 'id' | 'invoice' | 'period';
  /** Cancelled after this many days: its end comes early, with its new dates. */
  cancelAfterDays: number | null;
  /** Whether Aqueduct sends its end at all (a history may stop while a period runs). */
  endSent: boolean;
  /** The start is created this many days before the start date (scheduled ahead). */
  createdEarlyDays: number;
  /** Its end leaves out `gracePeriodEndDate` (the start's grace length then holds). */
  endOmitsGrace: boolean;
}

export interface DeliveryPlan {
  delay: number;
  /** A second delivery: the same bytes (Aqueduct's retry), other bytes of the same event, or none. */
  copy: 'none' | 'same' | 'resend';
  copyDelay: number;
  /** With payment required: when its invoice is paid, relative to the start (hours); null: never. */
  paidAfterHours: number | null;
}

export interface HistoryPlan {
  periods: PeriodPlan[];
  deliveries: DeliveryPlan[];
  /** Moments the expiry job runs, as thousandths of the history's span. */
  sweeps: number[];
}

const periodArb: fc.Arbitrary<PeriodPlan> = fc.record({
  switchProduct: fc.boolean(),
  gapDays: fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: -5, max: -1 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 20 }) },
  ),
  days: fc.integer({ min: 6, max: 35 }),
  graceDays: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null, freq: 3 }),
  keying: fc.constantFrom('id' as const, 'invoice' as const, 'period' as const),
  cancelAfterDays: fc.option(fc.integer({ min: 0, max: 30 }), { nil: null, freq: 2 }),
  endSent: fc.oneof(
    { weight: 5, arbitrary: fc.constant(true) },
    { weight: 1, arbitrary: fc.constant(false) },
  ),
  createdEarlyDays: fc.oneof(
    { weight: 4, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }) },
  ),
  endOmitsGrace: fc.oneof(
    { weight: 3, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

const deliveryArb: fc.Arbitrary<DeliveryPlan> = fc.record({
  delay: fc.constantFrom(...DELAYS),
  copy: fc.constantFrom('none' as const, 'none' as const, 'same' as const, 'resend' as const),
  copyDelay: fc.constantFrom(...DELAYS),
  paidAfterHours: fc.option(fc.integer({ min: -48, max: 24 * 40 }), { nil: null, freq: 4 }),
});

export const historyArb: fc.Arbitrary<HistoryPlan> = fc.record({
  periods: fc.array(periodArb, { minLength: 1, maxLength: 6 }),
  deliveries: fc.array(deliveryArb, { minLength: 12, maxLength: 12 }),
  sweeps: fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 8 }),
});

/** An Aqueduct event of the history. */
export interface HistoryEvent {
  type: 'provisioning.start' | 'provisioning.end';
  createdAt: number;
  object: Record<string, unknown>;
}

/** What happens at one moment: a delivery (possibly a copy), a payment, or the expiry job. */
export type Step =
  | { at: number; kind: 'event'; event: HistoryEvent; copy: 'first' | 'same' | 'resend' }
  | { at: number; kind: 'paid'; invoiceId: string }
  | { at: number; kind: 'sweep' };

export const PRODUCTS = ['prod_a', 'prod_b'];

/** The events of a history for one customer, and the order in which things reach the module. */
export function stepsOf(plan: HistoryPlan, customerId: string): Step[] {
  const events: HistoryEvent[] = [];
  const payments: { invoiceId: string; at: number }[] = [];
  let product = 0;
  let start = T0;
  let previousEnd = T0;
  plan.periods.forEach((period, index) => {
    if (index > 0) {
      product = period.switchProduct ? 1 - product : product;
      // Starts strictly increase, so two periods never share a start.
      start = Math.max(start + DAY, previousEnd + period.gapDays * DAY);
    }
    const end = start + period.days * DAY;
    previousEnd = end;
    const object = {
      ...(period.keying === 'id' ? { id: `prov_${customerId}_${index}` } : {}),
      customerId,
      productId: PRODUCTS[product],
      invoiceId: period.keying === 'invoice' ? `inv_${customerId}_${index}` : null,
      subscriptionId: `sub_${customerId}`,
      startDate: new Date(start).toISOString(),
      endDate: new Date(end).toISOString(),
      ...(period.graceDays === null
        ? {}
        : { gracePeriodEndDate: new Date(end + period.graceDays * DAY).toISOString() }),
      provisioningOrgs: [
        { name: 'Acme', users: [{ name: 'Ada', email: `ada${index % 2}@acme.test` }] },
      ],
    };
    events.push({
      type: 'provisioning.start',
      createdAt: start - period.createdEarlyDays * DAY,
      object,
    });
    const delivery = plan.deliveries[index % plan.deliveries.length];
    if (object.invoiceId && delivery.paidAfterHours !== null) {
      payments.push({ invoiceId: object.invoiceId, at: start + delivery.paidAfterHours * HOUR });
    }
    if (period.endSent) {
      const cancelled =
        period.cancelAfterDays !== null && period.cancelAfterDays < period.days
          ? start + period.cancelAfterDays * DAY
          : null;
      const endDate = cancelled ?? end;
      events.push({
        type: 'provisioning.end',
        createdAt: endDate,
        object: {
          ...object,
          endDate: new Date(endDate).toISOString(),
          ...(period.graceDays === null || period.endOmitsGrace
            ? {}
            : { gracePeriodEndDate: new Date(endDate + period.graceDays * DAY).toISOString() }),
        },
      });
    }
  });

  const steps: Step[] = [];
  events.forEach((event, index) => {
    const delivery = plan.deliveries[index % plan.deliveries.length];
    const first = Math.max(event.createdAt, T0) + delivery.delay;
    steps.push({ at: first, kind: 'event', event, copy: 'first' });
    if (delivery.copy !== 'none') {
      steps.push({ at: first + delivery.copyDelay, kind: 'event', event, copy: delivery.copy });
    }
  });
  payments.forEach(({ invoiceId, at }) =>
    steps.push({ at: Math.max(at, T0), kind: 'paid', invoiceId }),
  );
  const last = Math.max(...steps.map((step) => step.at), previousEnd);
  for (const permille of plan.sweeps) {
    steps.push({ at: T0 + Math.round(((last + 12 * DAY - T0) * permille) / 1000), kind: 'sweep' });
  }
  // Long after everything: every window has closed and every loss has settled.
  steps.push({ at: last + 60 * DAY, kind: 'sweep' });
  return steps.sort((a, b) => a.at - b.at);
}

/** What the module has been told so far, and the access it implies. */
export class AccessModel {
  private readonly newest = new Map<string, { event: HistoryEvent; rank: number }>();
  /** Per provisioning, the newest event that named a grace period (one that leaves it out keeps its length). */
  private readonly newestGrace = new Map<string, { event: HistoryEvent; rank: number }>();
  private readonly paid = new Map<string, number>();

  constructor(private readonly requirePayment: boolean) {}

  /** An event reached the module (a copy of a known one changes nothing: it is not newer). */
  receive(event: HistoryEvent): void {
    const o = event.object;
    const key = o.id
      ? `id:${o.id}`
      : o.invoiceId
        ? `inv:${o.productId}:${o.invoiceId}`
        : `period:${o.productId}:${o.subscriptionId}:${o.startDate}`;
    const rank = event.type === 'provisioning.end' ? 2 : 0;
    keepNewest(this.newest, key, event, rank);
    if ('gracePeriodEndDate' in o) {
      keepNewest(this.newestGrace, key, event, rank);
    }
  }

  /** An `invoice.paid` reached the module at `at` (the first one counts). */
  pay(invoiceId: string, at: number): void {
    if (!this.paid.has(invoiceId)) {
      this.paid.set(invoiceId, at);
    }
  }

  /** The known windows of a product: [from, until). */
  windows(productId: string): [number, number][] {
    return this.paidWindows(productId).map(([from, , until]) => [from, until]);
  }

  /** The known windows of a product: [from, paidUntil, until). */
  private paidWindows(productId: string): [number, number, number][] {
    const windows: [number, number, number][] = [];
    for (const [key, { event }] of this.newest) {
      const o = event.object as Record<string, string | null>;
      if (o.productId !== productId) {
        continue;
      }
      let from = Date.parse(o.startDate!);
      if (this.requirePayment && o.invoiceId) {
        const paidAt = this.paid.get(o.invoiceId);
        if (paidAt === undefined) {
          continue;
        }
        from = Math.max(from, paidAt);
      }
      const end = Date.parse(o.endDate!);
      const named = this.newestGrace.get(key)?.event.object as Record<string, string> | undefined;
      const grace = named?.gracePeriodEndDate
        ? end + Date.parse(named.gracePeriodEndDate) - Date.parse(named.endDate)
        : end;
      const until = Math.max(end, grace);
      if (until > from) {
        windows.push([from, Math.max(end, from), until]);
      }
    }
    return windows;
  }

  hasAccess(productId: string, at: number): boolean {
    return this.windows(productId).some(([from, until]) => from <= at && at < until);
  }

  /**
   * What access checks answer: the dates, and after each covered stretch a renewal window up to
   * `windowMs` past its last paid end (a longer grace period ends exactly), closing where the
   * next stretch starts.
   */
  checks(productId: string, at: number, windowMs: number): boolean {
    if (this.hasAccess(productId, at)) {
      return true;
    }
    const stretches: { from: number; until: number; lastPaid: number }[] = [];
    for (const [from, paidUntil, until] of [...this.paidWindows(productId)].sort(
      (a, b) => a[0] - b[0],
    )) {
      const paid = paidUntil > from ? paidUntil : Number.NEGATIVE_INFINITY;
      const last = stretches.at(-1);
      if (last && from <= last.until) {
        last.until = Math.max(last.until, until);
        last.lastPaid = Math.max(last.lastPaid, paid);
      } else {
        stretches.push({ from, until, lastPaid: paid });
      }
    }
    return stretches.some(
      (s, i) =>
        s.until <= at &&
        at <
          Math.min(
            windowClose(s.lastPaid, windowMs),
            stretches[i + 1]?.from ?? Number.POSITIVE_INFINITY,
          ),
    );
  }

  /** Moments worth probing for checks: those of `probes`, and where a renewal window would end. */
  checkProbes(productId: string, now: number, windowMs: number): number[] {
    const ends = this.paidWindows(productId).map(([, paidUntil]) =>
      windowClose(paidUntil, windowMs),
    );
    return [...new Set([...this.probes(productId, now), ...ends.flatMap((t) => [t - 1, t])])];
  }

  /** Moments worth probing: every boundary, just before it, and now. */
  probes(productId: string, now: number): number[] {
    return [
      ...new Set([
        now,
        ...this.windows(productId)
          .flat()
          .flatMap((t) => [t - 1, t]),
      ]),
    ];
  }
}

/** Keeps in `map` the newest (envelope time, then rank) event about each provisioning. */
function keepNewest(
  map: Map<string, { event: HistoryEvent; rank: number }>,
  key: string,
  event: HistoryEvent,
  rank: number,
): void {
  const known = map.get(key);
  if (
    !known ||
    event.createdAt > known.event.createdAt ||
    (event.createdAt === known.event.createdAt && rank > known.rank)
  ) {
    map.set(key, { event, rank });
  }
}

/**
 * Where the renewal window after a paid end closes: `windowMs` after it, and 12 hours more after a
 * paid end at midnight (UTC), a day Aqueduct sees end in its own time zone.
 */
function windowClose(paidEnd: number, windowMs: number): number {
  return paidEnd + windowMs + (windowMs > 0 && paidEnd % 86_400_000 === 0 ? 12 * 3_600_000 : 0);
}
