import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { AccessFallback } from '../options/aqueduct-options.interface';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import type { EntitlementStatus } from '../events/access-status';
import { printable } from '../utils/printable';
import { AccessCache, spanAt, toSpans } from './access-cache';
import { isThenable } from './customer-id.resolvers';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import { type AccessSegment, accessAt, withPayment } from './access-timeline';

/**
 * A customer's access to one product, at the moment asked about: the union of the windows of all
 * its provisionings (each from its start until its grace period's end), so a renewal keeps it
 * whole. Right at any moment, before and after the expiry job runs: it is read off the timeline.
 */
export interface Entitlement {
  /** The module's id of this customer's access to this product (stable across renewals). */
  id: string;
  customerId: string;
  productId: string;
  status: EntitlementStatus;
  hasAccess: boolean;
  /** Start of the covered span holding the moment. */
  since: Date | null;
  /** End of that span: access lasts until then unless a renewal arrives. */
  accessUntil: Date | null;
  /** End of the span's last paid period. */
  paidUntil: Date | null;
  /** The next moment `status` changes, from what is known now. */
  changesAt: Date | null;
  /** A paid period starts after the moment: a renewal or a new subscription is already known. */
  renewalAhead: boolean;
  /** Some provisioning waits for its invoice to be paid (with `access.requirePayment`). */
  awaitingPayment: boolean;
  /** The orgs and users of the provisionings granting access (as last evaluated). */
  orgs: ProvisioningOrgDto[];
  /** The union of the windows: paid (`active`) and grace stretches, oldest first. */
  timeline: AccessSegment[];
  /** Whether the host's adapter was last told to provision (true) or deprovision (false). */
  provisioned: boolean;
  updatedAt: Date;
}

/** One provisioning as Aqueduct last described it. */
export interface Provisioning {
  /** The module's key: Aqueduct's id, else the invoice, else the period (see the README). */
  key: string;
  /** Aqueduct's id of the provisioning, when its object carries one. */
  provisioningId: string | null;
  customerId: string;
  productId: string;
  subscriptionId: string | null;
  invoiceId: string | null;
  startDate: Date;
  endDate: Date;
  gracePeriodEndDate: Date | null;
  /** The grace period's end, or the end date without one: its window closes here. */
  accessUntil: Date;
  contractStartDate: Date | null;
  contractEndDate: Date | null;
  orgs: ProvisioningOrgDto[];
  metadata: Record<string, unknown> | null;
  /** When an `invoice.paid` for its invoice reached the module, if one has. */
  paidAt: Date | null;
  lastEventId: string | null;
  lastEventType: string;
  lastEventAt: Date;
}

interface AccessRecord {
  id: string;
  customerId: string;
  productId: string;
  timeline: { from: string; until: string; status: 'active' | 'grace' }[];
  awaitingPayment: boolean;
  orgs: ProvisioningOrgDto[];
  provisioned: boolean;
  updatedAt: Date;
}

const ACCESS_COLUMNS = `id, customer_id AS "customerId", product_id AS "productId", timeline,
  awaiting_payment AS "awaitingPayment", orgs, provisioned, updated_at AS "updatedAt"`;

const PROVISIONING_COLUMNS = `p.key, p.provisioning_id AS "provisioningId", p.customer_id AS "customerId",
  p.product_id AS "productId", p.subscription_id AS "subscriptionId", p.invoice_id AS "invoiceId",
  p.start_date AS "startDate", p.end_date AS "endDate", p.grace_period_end_date AS "gracePeriodEndDate",
  p.access_until AS "accessUntil", p.contract_start_date AS "contractStartDate",
  p.contract_end_date AS "contractEndDate", p.orgs, p.metadata, pay.paid_at AS "paidAt",
  p.last_event_id AS "lastEventId", p.last_event_type AS "lastEventType", p.last_event_at AS "lastEventAt"`;

/** A stored timeline with its instants as Dates. */
export const toTimeline = (stored: AccessRecord['timeline']): AccessSegment[] =>
  stored.map((s) => ({ from: new Date(s.from), until: new Date(s.until), status: s.status }));

/** What `check` is asked: a product (Aqueduct's id) or one of your features (`features` option). */
export type AccessQuery = { product: string } | { feature: string };

/**
 * Where an answer came from: the in-memory cache, a read of Postgres, the cache while Postgres
 * could not be read (`stale`), or `access.fallback` (nothing known, Postgres unreachable).
 */
export type AccessAnswerSource = 'cache' | 'database' | 'stale' | 'fallback';

/** The answer to "may this customer use this product / feature now?". */
export interface AccessCheck {
  customerId: string;
  /** The product asked about, when one was. */
  product?: string;
  /** The feature asked about, when one was. */
  feature?: string;
  allowed: boolean;
  /** The products granting it at the moment asked. */
  grantedBy: string[];
  /** The next moment the answer changes by time alone, from what is known now (null: never). */
  changesAt: Date | null;
  /** Users the granting provisionings carry: the seats paid for (enforce your limit with it). */
  seats: number;
  source: AccessAnswerSource;
  /** Answered from memory while Postgres could not be read: right as of the last read. */
  stale: boolean;
  /** Answered by `access.fallback`: nothing was known about the customer. */
  fallback: boolean;
}

/** A customer's features now, from the products granting access. */
export interface CustomerFeatures {
  customerId: string;
  features: string[];
  /** The products granting access at the moment asked. */
  products: string[];
  /** Users the granting provisionings carry, over all those products. */
  seats: number;
  source: AccessAnswerSource;
  stale: boolean;
  fallback: boolean;
}

/**
 * "May customer C use product P (or feature F) now?" Answered from the instance's access cache
 * (one read of the customer's rows on first use, then memory until a change is notified) and the
 * moment asked about, so it flips exactly at a start or a grace period's end, without waiting for
 * the expiry job. Never throws for a database fault: see `AccessAnswerSource`.
 */
@Injectable()
export class AqueductAccessService {
  private readonly logger = new Logger('AqueductAccess');
  /** Products granting each feature. */
  private readonly productsOfFeature = new Map<string, string[]>();
  private readonly unknownFeaturesLogged = new Set<string>();
  /** Answers given by source, since start (health, metrics). */
  readonly answers: Record<AccessAnswerSource, number> = {
    cache: 0,
    database: 0,
    stale: 0,
    fallback: 0,
  };

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly cache: AccessCache,
    private readonly metrics: AqueductMetrics,
  ) {
    for (const [product, features] of Object.entries(options.features ?? {})) {
      for (const feature of features) {
        this.productsOfFeature.set(feature, [
          ...(this.productsOfFeature.get(feature) ?? []),
          product,
        ]);
      }
    }
  }

  /** Whether the customer has access to the product at `at` (default: now). */
  async hasAccess(
    customerId: string,
    productId: string,
    at: Date = this.clock.now(),
  ): Promise<boolean> {
    return (await this.check(customerId, { product: productId }, at)).allowed;
  }

  /**
   * May the customer use the product, or the feature, at `at` (default: now)? From memory on the
   * hot path; see `AccessCheck` for what comes with the answer.
   */
  async check(
    customerId: string,
    query: AccessQuery,
    at: Date = this.clock.now(),
  ): Promise<AccessCheck> {
    const products = 'feature' in query ? this.productsGranting(query.feature) : [query.product];
    const asked = 'feature' in query ? { feature: query.feature } : { product: query.product };
    const found = this.cache.lookup(customerId);
    const lookup = isThenable(found) ? await found : found;
    if (lookup.access === null) {
      const grantedBy = products.filter((product) => this.fallbackFor(product) === 'allow');
      this.answered('fallback');
      return {
        customerId,
        ...asked,
        allowed: grantedBy.length > 0,
        grantedBy,
        changesAt: null,
        seats: 0,
        source: 'fallback',
        stale: false,
        fallback: true,
      };
    }
    const t = at.getTime();
    const grantedBy: string[] = [];
    const spans: number[][] = [];
    let seats = 0;
    for (const product of products) {
      const access = lookup.access.get(product);
      if (!access) {
        continue;
      }
      spans.push(access.spans as number[]);
      if (spanAt(access.spans, t).covered) {
        grantedBy.push(product);
        seats += access.seats;
      }
    }
    const union = spans.length === 1 ? spans[0] : toSpans(pairsOf(spans));
    const { covered, changesAt } = spanAt(union, t);
    this.answered(lookup.source);
    return {
      customerId,
      ...asked,
      allowed: covered,
      grantedBy,
      changesAt: changesAt === null ? null : new Date(changesAt),
      seats,
      source: lookup.source,
      stale: lookup.source === 'stale',
      fallback: false,
    };
  }

  /** The customer's features (and products, seats) at `at` (default: now), from the cache. */
  async getFeatures(customerId: string, at: Date = this.clock.now()): Promise<CustomerFeatures> {
    const found = this.cache.lookup(customerId);
    const lookup = isThenable(found) ? await found : found;
    const t = at.getTime();
    let products: string[];
    let seats = 0;
    if (lookup.access === null) {
      products = Object.keys(this.options.features ?? {}).filter(
        (product) => this.fallbackFor(product) === 'allow',
      );
    } else {
      products = [];
      for (const [product, access] of lookup.access) {
        if (spanAt(access.spans, t).covered) {
          products.push(product);
          seats += access.seats;
        }
      }
      products.sort();
    }
    const features = new Set(products.flatMap((product) => this.options.features?.[product] ?? []));
    const source = lookup.access === null ? 'fallback' : lookup.source;
    this.answered(source);
    return {
      customerId,
      features: [...features].sort(),
      products,
      seats,
      source,
      stale: source === 'stale',
      fallback: source === 'fallback',
    };
  }

  /** The customer's access to one product, or null when no provisioning ever named the pair. */
  async getEntitlement(
    customerId: string,
    productId: string,
    at: Date = this.clock.now(),
  ): Promise<Entitlement | null> {
    const [row]: AccessRecord[] = await this.dataSource.query(
      `SELECT ${ACCESS_COLUMNS} FROM aqueduct_access WHERE customer_id = $1 AND product_id = $2`,
      [customerId, productId],
    );
    return row ? toEntitlement(row, at) : null;
  }

  /** The customer's access to each product: those giving access first, then by product. */
  async getEntitlements(customerId: string, at: Date = this.clock.now()): Promise<Entitlement[]> {
    const rows: AccessRecord[] = await this.dataSource.query(
      `SELECT ${ACCESS_COLUMNS} FROM aqueduct_access WHERE customer_id = $1 ORDER BY product_id`,
      [customerId],
    );
    return rows
      .map((row) => toEntitlement(row, at))
      .sort((a, b) => Number(b.hasAccess) - Number(a.hasAccess));
  }

  private productsGranting(feature: string): string[] {
    const products = this.productsOfFeature.get(feature);
    if (!products && !this.unknownFeaturesLogged.has(feature)) {
      this.unknownFeaturesLogged.add(feature);
      this.logger.error(
        `No product grants the feature "${printable(feature)}" (options.features): it is denied to everyone`,
      );
    }
    return products ?? [];
  }

  private fallbackFor(product: string): AccessFallback {
    const fallback = this.options.access.fallback;
    return typeof fallback === 'string' ? fallback : (fallback[product] ?? 'deny');
  }

  private answered(source: AccessAnswerSource): void {
    this.answers[source]++;
    this.metrics.accessChecked(source);
  }

  /** The customer's provisionings (of one product, if given), oldest start first. */
  getProvisionings(customerId: string, productId?: string): Promise<Provisioning[]> {
    return this.dataSource.query(
      `SELECT ${PROVISIONING_COLUMNS} FROM aqueduct_provisionings p
         LEFT JOIN aqueduct_invoice_payments pay ON pay.invoice_id = p.invoice_id
        WHERE p.customer_id = $1 AND ($2::text IS NULL OR p.product_id = $2)
        ORDER BY p.product_id, p.start_date, p.key`,
      [customerId, productId ?? null],
    );
  }
}

/** Spans of several products as `{ from, until }` pairs, to be merged into one union. */
function pairsOf(spans: number[][]): { from: Date; until: Date }[] {
  const pairs: { from: Date; until: Date }[] = [];
  for (const list of spans) {
    for (let i = 0; i < list.length; i += 2) {
      pairs.push({ from: new Date(list[i]), until: new Date(list[i + 1]) });
    }
  }
  return pairs;
}

function toEntitlement(row: AccessRecord, at: Date): Entitlement {
  const timeline = toTimeline(row.timeline);
  const state = accessAt(timeline, at);
  return {
    id: row.id,
    customerId: row.customerId,
    productId: row.productId,
    status: withPayment(state.status, row.awaitingPayment),
    hasAccess: state.hasAccess,
    since: state.since,
    accessUntil: state.accessUntil,
    paidUntil: state.paidUntil,
    changesAt: state.changesAt,
    renewalAhead: state.renewalAhead,
    awaitingPayment: row.awaitingPayment,
    orgs: row.orgs,
    timeline,
    provisioned: row.provisioned,
    updatedAt: row.updatedAt,
  };
}
