/** How access is computed, and how `@RequiresEntitlement()` finds the customer a request is for. */
export interface AccessOptions {
  /**
   * Returns the Aqueduct customer id (`owner_...`) of the request, or nothing when unknown (403).
   * `customerIdFrom` has ready ones: `.user()`, `.param()`, `.header(name)`,
   * `.subdomain(baseDomain, toCustomerId)`, `.firstOf(...)`.
   * @default customerIdFrom.firstOf(customerIdFrom.param('customerId'), customerIdFrom.user('customerId'))
   */
  customerIdResolver?: CustomerIdResolver;
  /**
   * Grant access only once the provisioning's invoice is paid: a provisioning with an `invoiceId`
   * opens when an `invoice.paid` for that invoice has arrived (before or after it), and not before
   * the payment arrived. A provisioning without an invoice has nothing to wait for.
   * @default false (access follows the provisioning's dates)
   */
  requirePayment?: boolean;
  /**
   * How long a loss must hold before it takes effect. Aqueduct fires a renewal's
   * `provisioning.start` at the moment the previous period's `provisioning.end` fires, in either
   * order, and retries a refused delivery an hour later; the wait lets the renewal arrive second,
   * or with that retry, without the customer losing anything:
   * - announcements: the paid period's end (`access.grace`, the "period ended" mail) and the end
   *   of access (`access.expired`, `deprovision`, the "access ended" mail) wait this long from
   *   the moment the loss happened or the module learned of it, whichever is later;
   * - access checks (`check`, `hasAccess`, the guards, `getEntitlement`): access lasts at least
   *   this long past a paid period's end (status `grace`: the renewal window); a longer grace
   *   period ends exactly. The CLI's `access` commands need it too (`--settle-ms`).
   *
   * After a paid end at midnight (UTC), a day rather than an instant, both wait 12 hours more:
   * Aqueduct fires the renewal when that day begins in its own time zone.
   *
   * A genuine end takes effect that much later. `0` announces and cuts at once; at most a year.
   * @default 4500000 (75 minutes: Aqueduct's first retry, an hour, and a quarter of an hour)
   */
  settleMs?: number;
  /**
   * The in-memory access cache behind `check`, `hasAccess`, `@RequiresEntitlement` and
   * `@RequiresFeature` (see `AccessCacheOptions`); `false` reads Postgres on every check.
   * @default { maxEntries: 100000, disconnectedTtlMs: 1000, loadTimeoutMs: 1000, retryMs: 1000 }
   */
  cache?: AccessCacheOptions | false;
  /**
   * The answer for a customer the cache does not hold while Postgres cannot be reached: `'deny'`
   * or `'allow'`, for every product, or per product (`{ prod_pro: 'allow' }`; products not named
   * are denied). Every such answer is flagged `fallback: true`. A customer the cache holds is
   * answered from the cache instead, flagged `stale: true`.
   * @default 'deny'
   */
  fallback?: AccessFallback | Record<string, AccessFallback>;
}

/** What an access check answers when it cannot know (see `AccessOptions.fallback`). */
export type AccessFallback = 'deny' | 'allow';

/**
 * Each instance keeps customers' access in memory, filled on first use. A trigger on the access
 * table NOTIFYs every change (by any instance, the expiry job or a CLI), and each instance drops
 * that customer at once: an answer never comes from an entry older than a change it was told of.
 */
export interface AccessCacheOptions {
  /**
   * Customers kept (least recently checked are dropped first). An entry is a few hundred bytes.
   * @default 100000
   */
  maxEntries?: number;
  /**
   * While the notification connection is down (changes could go unseen), an entry is used for at
   * most this long after it was read, then read again.
   * @default 1000
   */
  disconnectedTtlMs?: number;
  /**
   * How long a check waits for Postgres before answering from a stale entry or the fallback.
   * @default 1000
   */
  loadTimeoutMs?: number;
  /**
   * After Postgres failed to answer, how long checks answer from the cache and the fallback
   * before one check tries Postgres again (the others do not wait meanwhile).
   * @default 1000
   */
  retryMs?: number;
}

/**
 * Finds the Aqueduct customer id (`owner_…`) of a request, for `@RequiresEntitlement` and
 * `@RequiresFeature` (`access.customerIdResolver`). Nothing, or an empty string, is a 403.
 */
export type CustomerIdResolver = (
  request: any,
) => string | null | undefined | Promise<string | null | undefined>;
