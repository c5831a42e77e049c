import type {
  AccessCacheOptions,
  AccessFallback,
  AlertOptions,
  DispatchOptions,
  ExpiryOptions,
  HealthOptions,
  MetricsOptions,
  RetentionOptions,
} from './aqueduct-options.interface';
import type { EmailTemplateName } from './email-options.interface';
import { AQUEDUCT_ATTEMPTS_MS, RETRY_SLACK_MS } from '../events/aqueduct-retries';

/**
 * Every default of the module's options, in one place (each is also in the option's JSDoc).
 */

/** Where the webhook is served (under the host's global prefix). */
export const DEFAULT_WEBHOOK_PATH = 'webhooks/aqueduct';
/** Largest webhook body accepted (413 above). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** How long storing an event may take before the answer is a 503 (Aqueduct retries). */
export const DEFAULT_STORE_TIMEOUT_MS = 5000;

/** `preparedStatements` when not given: the hot inserts are planned once per connection. */
export const DEFAULT_PREPARED_STATEMENTS = true;
/** Largest accepted clock skew of a signed timestamp, in seconds. */
export const DEFAULT_TOLERANCE_SECONDS = 300;
/** Header carrying the signature with the `hmac` scheme. */
export const DEFAULT_HMAC_HEADER = 'x-aqueduct-signature';
/** Header carrying the secret with the `shared-secret` scheme. */
export const DEFAULT_SHARED_SECRET_HEADER = 'authorization';
/** The scheme when `verification` is not given. */
export const DEFAULT_SCHEME = 'shared-secret';
/** `invalidEvents` when not given: answered 2xx, kept, alerted on. */
export const DEFAULT_INVALID_EVENTS = 'quarantine';

export const EXPIRY_DEFAULTS: Required<ExpiryOptions> = {
  enabled: true,
  cron: '* * * * *',
  batchSize: 500,
};

/**
 * Retention: off (deleting a host's data is opt-in); hourly, off the top of the hour when other
 * crons fire; batches small enough to keep each transaction short.
 */
export const RETENTION_DEFAULTS: Required<RetentionOptions> = {
  enabled: false,
  olderThanDays: 30,
  cron: '17 * * * *',
  batchSize: 5000,
  pauseRatio: 0.3,
  includeQuarantined: false,
  includeDead: false,
};

/** Longest pause after a prune batch, as a multiple of its time: slower is no longer a prune. */
export const MAX_PAUSE_RATIO = 10;

export const ACCESS_CACHE_DEFAULTS: Required<AccessCacheOptions> = {
  maxEntries: 100_000,
  disconnectedTtlMs: 1000,
  loadTimeoutMs: 1000,
  retryMs: 1000,
};

/**
 * Aqueduct's first retry of a refused delivery comes an hour after it; the quarter of an hour more
 * leaves room for its scheduling. A renewal's start refused at its moment (a deploy, a database
 * blip) still arrives before its customer loses anything.
 */
const FIRST_RETRY_MS = AQUEDUCT_ATTEMPTS_MS[1];

export const ACCESS_DEFAULTS = {
  requirePayment: false,
  settleMs: FIRST_RETRY_MS + RETRY_SLACK_MS,
  cache: ACCESS_CACHE_DEFAULTS,
  fallback: 'deny' as AccessFallback,
};

export const ALERT_DEFAULTS: Required<AlertOptions> = {
  verificationFailures: 5,
  verificationWindowMs: 600_000,
  silenceAfterMs: 7_200_000,
};

/** `endpointCheck.intervalMs` when not given: a deleted or changed endpoint is noticed within hours. */
export const ENDPOINT_CHECK_INTERVAL_MS = 3 * 3_600_000;
/** Shortest interval: a typo (hours for ms) must not poll Aqueduct's API in a loop. */
export const ENDPOINT_CHECK_MIN_INTERVAL_MS = 1_000;
/**
 * Longest `access.settleMs`: a year of holding every loss back. Far past any outage, and dates
 * computed from it (what the ledger reads back to) stay inside what Postgres and JavaScript take.
 */
export const MAX_SETTLE_MS = 365 * 24 * 3_600_000;

/** Longest delay `setInterval` takes; above it Node fires at once, every millisecond. */
export const MAX_TIMER_MS = 2_147_483_647;

export const DISPATCH_DEFAULTS: Required<DispatchOptions> = {
  enabled: true,
  concurrency: 10,
  maxAttempts: 8,
  retryBaseDelayMs: 30_000,
  retryMaxDelayMs: 3_600_000,
  leaseMs: 60_000,
  pollIntervalMs: 1_000,
  shutdownTimeoutMs: 10_000,
  listenerTimeoutMs: 600_000,
  localBacklogPerSlot: 50,
};

export const CONSOLE_DEFAULTS = {
  path: 'aqueduct/console',
  pageSize: 50,
} as const;

/** Largest `console.pageSize`: a page is one indexed range scan, but it is also rendered HTML. */
export const CONSOLE_MAX_PAGE_SIZE = 500;

/** Shortest `console.csrfSecret` accepted: 32 characters carry enough entropy for an HMAC key. */
export const CSRF_SECRET_MIN_LENGTH = 32;

export const HEALTH_DEFAULTS: Required<Pick<HealthOptions, 'maxPendingAgeMs'>> = {
  maxPendingAgeMs: 600_000,
};

export const METRICS_DEFAULTS: Required<Pick<MetricsOptions, 'prefix'>> = {
  prefix: 'aqueduct_',
};

/** Which mails go out unless `email.mails` says otherwise: a renewal is not news to the customer. */
export const MAIL_DEFAULTS: Record<EmailTemplateName, boolean> = {
  'access-started': true,
  'access-renewed': false,
  'period-ended': true,
  'access-ended': true,
  'delivery-dead': true,
  'operator-alert': true,
};

export const EMAIL_DEFAULTS = {
  /** Locale of the dates in mails. */
  locale: 'en-US',
  /** Time zone of the dates in mails. */
  timeZone: 'UTC',
};
