import type { CanActivate, Type } from '@nestjs/common';
import type { ProvisioningAdapter } from './provisioning-adapter.interface';
import type { EmailOptions } from './email-options.interface';
import type { WebhookVerifier } from './webhook-verifier.interface';

/** Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`; `svix-*` too). */
export interface StandardWebhooksVerification {
  scheme: 'standard-webhooks';
  /**
   * Allowed distance, in seconds, between the signed timestamp and now, in both directions.
   * @default 300
   */
  toleranceSeconds?: number;
}

/** HMAC of the raw body (optionally of `<timestamp>.<body>`) in one header. */
export interface HmacVerification {
  scheme: 'hmac';
  /**
   * Header carrying the signature.
   * @default 'x-aqueduct-signature'
   */
  header?: string;
  /**
   * Hash function.
   * @default 'sha256'
   */
  algorithm?: 'sha256' | 'sha512';
  /**
   * How the digest is written in the header.
   * @default 'hex'
   */
  encoding?: 'hex' | 'base64';
  /**
   * Text before the digest, e.g. `'sha256='` (GitHub style). Matched case-insensitively.
   * @default ''
   */
  prefix?: string;
  /**
   * Header carrying a Unix timestamp (seconds). When set, the signed content is
   * `<timestamp>.<raw body>` and the timestamp must lie within `toleranceSeconds` of now.
   * @default undefined (body only, no replay window)
   */
  timestampHeader?: string;
  /**
   * Allowed distance, in seconds, between the signed timestamp and now.
   * @default 300
   */
  toleranceSeconds?: number;
  /**
   * Header carrying a unique delivery id; when present it is the deduplication key.
   * @default undefined (a SHA-256 of the raw body is used)
   */
  deliveryIdHeader?: string;
}

/** The secret itself travels in a header (`Authorization: Bearer <secret>` by default). */
export interface SharedSecretVerification {
  scheme: 'shared-secret';
  /**
   * Header carrying the secret. For `authorization`, a `Bearer ` (or `Api-Key `) prefix is removed.
   * @default 'authorization'
   */
  header?: string;
  /**
   * Header carrying a unique delivery id; when present it is the deduplication key.
   * @default undefined (a SHA-256 of the raw body is used)
   */
  deliveryIdHeader?: string;
}

/** The host's own verifier class, instantiated by Nest (it may inject providers). */
export interface CustomVerification {
  scheme: 'custom';
  verifier: Type<WebhookVerifier>;
}

export type VerificationOptions =
  StandardWebhooksVerification | HmacVerification | SharedSecretVerification | CustomVerification;

export type VerificationScheme = VerificationOptions['scheme'];

/** How stored events reach listeners. */
export interface DispatchOptions {
  /**
   * Run listeners in this instance. Turn off in instances that should only receive.
   * @default true
   */
  enabled?: boolean;
  /**
   * Deliveries this instance runs at the same time.
   * @default 10
   */
  concurrency?: number;
  /**
   * Runs of one delivery before it is dead-lettered.
   * @default 8
   */
  maxAttempts?: number;
  /**
   * First retry delay; each next one doubles (with jitter) up to `retryMaxDelayMs`. With the
   * defaults, 8 attempts span about an hour.
   * @default 30000
   */
  retryBaseDelayMs?: number;
  /**
   * Longest delay between two attempts.
   * @default 3600000 (1 hour)
   */
  retryMaxDelayMs?: number;
  /**
   * How long a claimed delivery stays reserved. Renewed while the listener runs; when a process
   * dies mid-listener, another instance retakes the delivery once it expires.
   * @default 60000
   */
  leaseMs?: number;
  /**
   * Safety-net poll for due work (retries, expired leases, missed notifications).
   * @default 1000
   */
  pollIntervalMs?: number;
  /**
   * On shutdown, how long to wait for running listeners before handing their deliveries back.
   * @default 10000
   */
  shutdownTimeoutMs?: number;
  /**
   * The fast path: the instance that receives an event stores its deliveries leased to itself and
   * runs them right after the answer, keeping up to this many per slot of `concurrency` waiting in
   * memory; past that, deliveries are stored pending for any instance. Lower it when listeners are
   * slow and other instances should share a burst sooner; 0 turns the fast path off (every delivery
   * is claimed, by any instance).
   * @default 50
   */
  localBacklogPerSlot?: number;
}

/** The scheduled job that ends access once `gracePeriodEndDate` (else `endDate`) has passed. */
export interface ExpiryOptions {
  /**
   * Run the job in this instance. Every instance may run it: one wins each tick.
   * @default true
   */
  enabled?: boolean;
  /**
   * Cron expression of the job (seconds field optional), as the `cron` package (and
   * `@nestjs/schedule`) take it. The job runs on its own timer: the host needs no ScheduleModule.
   * @default '* * * * *' (every minute)
   */
  cron?: string;
  /**
   * Entitlements handled per transaction.
   * @default 500
   */
  batchSize?: number;
}

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
   * How long a loss must hold before it is announced: the paid period's end (`access.grace`, the
   * "period ended" mail) and the end of access (`access.expired`, `deprovision`, the "access
   * ended" mail). Aqueduct fires a renewal's `provisioning.start` and the previous period's
   * `provisioning.end` at the same moment, in either order; the wait lets the renewal arrive
   * second without the customer being deprovisioned or told anything ended. Access checks
   * (`hasAccess`, `@RequiresEntitlement`) are never delayed: they follow the dates exactly.
   * @default 300000 (5 minutes)
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

/** When operators are alerted (health degraded, a metric, one mail to `email.alertTo`). */
export interface AlertOptions {
  /**
   * Requests failing verification, with none verified in between, that open the `verification`
   * alert (a wrong secret or scheme: Aqueduct disables the endpoint after its retries).
   * @default 5
   */
  verificationFailures?: number;
  /**
   * The window those failures are counted in.
   * @default 600000 (10 minutes)
   */
  verificationWindowMs?: number;
}

/** The periodic check that Aqueduct's endpoint list points at this app (needs `apiKey` and `publicUrl`). */
export interface EndpointCheckOptions {
  /**
   * Check at start-up (in the background: start-up never waits for Aqueduct's API) and every
   * `intervalMs`: an endpoint must point at `publicUrl` and send every Aqueduct event type this
   * app listens to, else the `endpoint` alert opens (health degraded, one mail to
   * `email.alertTo`). `EndpointCheck.check()` runs it on demand either way.
   * @default true when `apiKey` and `publicUrl` are both set, else false
   */
  enabled?: boolean;
  /**
   * Time between two checks, in ms (1000 to 2147483647).
   * @default 10800000 (3 hours)
   */
  intervalMs?: number;
}

/**
 * The web console: server-rendered pages to inspect events, their deliveries and a customer's
 * entitlements, and to replay events and redrive dead deliveries. Off unless given.
 */
export interface AqueductConsoleOptions {
  /**
   * Route under which the pages are served (the app's global prefix applies on top of it).
   * @default 'aqueduct/console'
   */
  path?: string;
  /**
   * Guard deciding who may use the console; every console route runs it, and a `false` answer
   * is a 403. Register it as a provider in one of your modules to let it inject your services
   * (it is looked up there), or it is instantiated by the module.
   * Required unless `allowUnauthenticated` is true.
   */
  guard?: Type<CanActivate>;
  /**
   * Serve the console to anyone who can reach it, without a guard. For local development only:
   * a warning is logged at start-up.
   * @default false
   */
  allowUnauthenticated?: boolean;
  /**
   * Events per page of the event list and of a customer's timeline (1 to 500).
   * @default 50
   */
  pageSize?: number;
  /**
   * Key signing the console's CSRF tokens; every instance behind one load balancer needs the
   * same. At least 32 characters.
   * @default derived (HKDF-SHA256) from the first of `secrets`; required when there is none
   */
  csrfSecret?: string;
}

/** Options of `AqueductModule.forRoot()` / `forRootAsync()`. */
export interface AqueductModuleOptions {
  /**
   * Webhook secrets. Several may be given during a rotation: a request signed with any of them is
   * accepted. Required unless `verification.scheme` is `custom`.
   */
  secrets?: string[];
  /**
   * How Aqueduct proves a request is genuine. Aqueduct does not document it; see the README.
   * @default { scheme: 'shared-secret' }
   */
  verification?: VerificationOptions;
  /**
   * Route of the webhook endpoint (the app's global prefix applies on top of it).
   * @default 'webhooks/aqueduct'
   */
  path?: string;
  /**
   * Largest request body accepted, in bytes; larger ones are answered 413 and not read further.
   * @default 1048576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * How long storing an event may take before the request is answered 503 (the sender retries).
   * @default 5000
   */
  storeTimeoutMs?: number;
  /**
   * What an authentic request gets when it cannot be understood: not JSON, not an object, or
   * refused by the DTOs of a known type (a body without a type is accepted, as `unknown`).
   * `'quarantine'`: 200 `{ received, id, quarantined: true, errors }`, stored byte for byte as
   * `quarantined`, no listener run, an alert raised; reprocess it after a fix. `'reject'`: 400
   * naming the fields (stored the same way), which Aqueduct retries four times and then disables
   * the endpoint for.
   * @default 'quarantine'
   */
  invalidEvents?: 'quarantine' | 'reject';
  /** When operators are alerted. */
  alerts?: AlertOptions;
  /** Delivery of stored events to listeners. */
  dispatch?: DispatchOptions;
  /**
   * Keep the access ledger from provisioning events and drive the `ProvisioningAdapter` (the
   * built-in `aqueduct.provisioning` listener). Turn off to receive and fan out events only.
   * @default true
   */
  ledger?: boolean;
  /**
   * Your `ProvisioningAdapter` class: register it as a provider in one of your modules so it can
   * inject your services (it is looked up there), or it is instantiated by the module.
   * @default an adapter that only logs
   */
  provisioningAdapter?: Type<ProvisioningAdapter>;
  /** The grace-period expiry job. */
  expiry?: ExpiryOptions;
  /** Access checks: the customer of a request, payment, the cache, the outage fallback. */
  access?: AccessOptions;
  /**
   * Your features, by the Aqueduct product that grants them, for `@RequiresFeature('sso')`,
   * `check(customerId, { feature })` and `getFeatures(customerId)`. A customer has a feature
   * while any product listing it grants access.
   * @example { prod_pro: ['reports', 'api'], prod_team: ['reports', 'api', 'sso'] }
   * @default {} (no features; products are checked by id)
   */
  features?: Record<string, string[]>;
  /** Thresholds of `AqueductHealthIndicator`. */
  health?: HealthOptions;
  /** Prometheus metrics (needs the optional `prom-client` package). */
  metrics?: MetricsOptions;
  /**
   * Aqueduct API key (`Authorization: Api-Key …`). When given, `AqueductApiClient` can be injected.
   * @default undefined
   */
  apiKey?: string;
  /**
   * Base URL of Aqueduct's API.
   * @default 'https://api.tryaqueduct.com'
   */
  apiBaseUrl?: string;
  /**
   * The absolute http(s) URL at which Aqueduct reaches this app's webhook endpoint, as registered
   * with Aqueduct: the route with your global prefix, behind your proxy, e.g.
   * `https://app.example.com/api/webhooks/aqueduct`. With `apiKey`, it turns on `endpointCheck`.
   * @default undefined (the endpoint is not checked)
   */
  publicUrl?: string;
  /**
   * The check that Aqueduct's webhook endpoints point at `publicUrl` with the events this app
   * listens to (see `EndpointCheckOptions`).
   * @default { enabled: true when apiKey and publicUrl are set, intervalMs: 10800000 (3 hours) }
   */
  endpointCheck?: EndpointCheckOptions;
  /**
   * Email the provisioned users when access starts, when the paid period ends, and when access is
   * gone; and operators when a delivery is dead-lettered. Off when not given.
   */
  email?: EmailOptions;
  /**
   * The web console (see `AqueductConsoleOptions`). It refuses to start without a `guard` unless
   * `allowUnauthenticated` is set.
   * @default undefined (no console routes)
   */
  console?: AqueductConsoleOptions;
}

/** Thresholds of `AqueductHealthIndicator`. */
export interface HealthOptions {
  /**
   * Down when the oldest due delivery has waited longer than this.
   * @default 600000 (10 minutes)
   */
  maxPendingAgeMs?: number;
  /**
   * Down when more deliveries than this are dead.
   * @default undefined (dead deliveries do not make the instance unhealthy)
   */
  maxDeadDeliveries?: number;
}

/** Prometheus metrics, through the optional `prom-client` package. */
export interface MetricsOptions {
  /** @default true when prom-client is installed */
  enabled?: boolean;
  /** A prom-client `Registry`. @default prom-client's global registry */
  registry?: unknown;
  /** Prefix of every series name. @default 'aqueduct_' */
  prefix?: string;
}

/**
 * Finds the Aqueduct customer id (`owner_…`) of a request, for `@RequiresEntitlement` and
 * `@RequiresFeature` (`access.customerIdResolver`). Nothing, or an empty string, is a 403.
 */
export type CustomerIdResolver = (
  request: any,
) => string | null | undefined | Promise<string | null | undefined>;
