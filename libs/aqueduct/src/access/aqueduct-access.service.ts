import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AccessFallback } from '../options/aqueduct-options.interface';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { printable } from '../utils/printable';
import { AccessCache } from './access-cache';
import { isThenable } from './customer-id.resolvers';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import type {
  AccessAnswerSource,
  AccessCheck,
  AccessQuery,
  CustomerFeatures,
  Entitlement,
  Provisioning,
} from './aqueduct-access.interfaces';
import { grantAt, productsAt, productsByFeature } from './aqueduct-access.grants';
import { type AccessRecord, toEntitlement } from './aqueduct-access.mapper';
import { isLedgerCustomerId } from './customer-id.limits';
import { ReceiverUptime } from './receiver-uptime';
import {
  CUSTOMER_PROVISIONINGS_SQL,
  ENTITLEMENTS_SQL,
  ENTITLEMENT_SQL,
} from './aqueduct-access.sql';

export type * from './aqueduct-access.interfaces';
export { toTimeline } from './aqueduct-access.mapper';

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
  private readonly productsOfFeature: Map<string, string[]>;
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
    private readonly uptime: ReceiverUptime,
  ) {
    this.productsOfFeature = productsByFeature(options.features);
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
    assertAccessQuery(query);
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
    const { grantedBy, seats, covered, changesAt } = grantAt(lookup.access, products, at.getTime());
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
    const { products, seats } =
      lookup.access === null
        ? { products: this.fallbackProducts(), seats: 0 }
        : productsAt(lookup.access, at.getTime());
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
    if (!isLedgerCustomerId(customerId)) {
      return null;
    }
    const [row]: AccessRecord[] = await this.dataSource.query(ENTITLEMENT_SQL, [
      customerId,
      productId,
    ]);
    return row ? toEntitlement(row, at, this.uptime.known()) : null;
  }

  /** The customer's access to each product: those giving access first, then by product. */
  async getEntitlements(customerId: string, at: Date = this.clock.now()): Promise<Entitlement[]> {
    if (!isLedgerCustomerId(customerId)) {
      return [];
    }
    const rows: AccessRecord[] = await this.dataSource.query(ENTITLEMENTS_SQL, [customerId]);
    return rows
      .map((row) => toEntitlement(row, at, this.uptime.known()))
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

  /** The products of the `features` option that `access.fallback` allows. */
  private fallbackProducts(): string[] {
    return Object.keys(this.options.features ?? {}).filter(
      (product) => this.fallbackFor(product) === 'allow',
    );
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
  async getProvisionings(customerId: string, productId?: string): Promise<Provisioning[]> {
    if (!isLedgerCustomerId(customerId)) {
      return [];
    }
    return this.dataSource.query(CUSTOMER_PROVISIONINGS_SQL, [customerId, productId ?? null]);
  }
}

/**
 * A query that is neither `{ product }` nor `{ feature }` (from plain JavaScript: a product id as
 * the query, `{ productId }`) would be denied for every customer, paying or not: a coding error
 * must say so, not look like a customer without access.
 */
function assertAccessQuery(query: unknown): asserts query is AccessQuery {
  // On every check of a paid route: two property reads, no allocation.
  const given = query as Record<string, unknown> | null;
  if (
    given !== null &&
    typeof given === 'object' &&
    (typeof given.product === 'string' || typeof given.feature === 'string')
  ) {
    return;
  }
  throw new TypeError(
    `AqueductAccessService.check(customerId, query): query must be { product: string } or { feature: string }, got ${JSON.stringify(query)}`,
  );
}
