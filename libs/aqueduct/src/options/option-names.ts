import { invalidOption } from '../aqueduct.messages';
import type { AccessCacheOptions, AccessOptions } from './access-options.interface';
import type { AqueductModuleOptions } from './aqueduct-options.interface';
import type { AqueductConsoleOptions } from './console-options.interface';
import type { EmailOptions } from './email-options.interface';
import type {
  AlertOptions,
  DispatchOptions,
  EndpointCheckOptions,
  ExpiryOptions,
  HealthOptions,
  MetricsOptions,
  RetentionOptions,
} from './runtime-options.interface';

/** The names of an options type, listed in full (the type makes a missing or stray one an error). */
const namesOf = <T>(names: Record<keyof T, true>): string[] => Object.keys(names);

const MODULE_OPTIONS = namesOf<AqueductModuleOptions>({
  secrets: true,
  verification: true,
  path: true,
  maxBodyBytes: true,
  storeTimeoutMs: true,
  preparedStatements: true,
  invalidEvents: true,
  alerts: true,
  dispatch: true,
  ledger: true,
  provisioningAdapter: true,
  expiry: true,
  retention: true,
  access: true,
  features: true,
  health: true,
  metrics: true,
  apiKey: true,
  apiBaseUrl: true,
  publicUrl: true,
  endpointCheck: true,
  email: true,
  console: true,
});

/**
 * The groups whose names are checked too, by their path. `verification` is left to its own
 * validator (each scheme has its own names), and so are maps whose keys are the host's
 * (`features`, `email.templates`, `email.productNames`).
 */
const GROUPS: Record<string, string[]> = {
  dispatch: namesOf<DispatchOptions>({
    enabled: true,
    concurrency: true,
    maxAttempts: true,
    retryBaseDelayMs: true,
    retryMaxDelayMs: true,
    leaseMs: true,
    pollIntervalMs: true,
    shutdownTimeoutMs: true,
    listenerTimeoutMs: true,
    localBacklogPerSlot: true,
  }),
  expiry: namesOf<ExpiryOptions>({ enabled: true, cron: true, batchSize: true }),
  retention: namesOf<RetentionOptions>({
    enabled: true,
    olderThanDays: true,
    cron: true,
    batchSize: true,
    pauseRatio: true,
    includeQuarantined: true,
    includeDead: true,
  }),
  access: namesOf<AccessOptions>({
    customerIdResolver: true,
    requirePayment: true,
    settleMs: true,
    cache: true,
    fallback: true,
  }),
  'access.cache': namesOf<AccessCacheOptions>({
    maxEntries: true,
    disconnectedTtlMs: true,
    loadTimeoutMs: true,
    retryMs: true,
  }),
  alerts: namesOf<AlertOptions>({
    verificationFailures: true,
    verificationWindowMs: true,
    silenceAfterMs: true,
  }),
  endpointCheck: namesOf<EndpointCheckOptions>({ enabled: true, intervalMs: true }),
  health: namesOf<HealthOptions>({ maxPendingAgeMs: true, maxDeadDeliveries: true }),
  metrics: namesOf<MetricsOptions>({ enabled: true, registry: true, prefix: true }),
  email: namesOf<EmailOptions>({
    transport: true,
    from: true,
    alertTo: true,
    timeZone: true,
    locale: true,
    productNames: true,
    templates: true,
    mails: true,
  }),
  console: namesOf<AqueductConsoleOptions>({
    path: true,
    guard: true,
    allowUnauthenticated: true,
    pageSize: true,
    csrfSecret: true,
  }),
};

/**
 * An option the module does not have is a typo that TypeScript misses in `forRootAsync`'s factory
 * or in options read from JSON (`acess: { requirePayment: true }` would grant access before
 * payment; `access: { settleMS: 0 }` would keep the default): it stops the app, with the option it
 * most likely meant.
 */
export function checkOptionNames(options: object): void {
  checkNames(options, MODULE_OPTIONS, '', 'AqueductModule');
  for (const [path, names] of Object.entries(GROUPS)) {
    const group = path
      .split('.')
      .reduce<unknown>((value, key) => (isPlainObject(value) ? value[key] : undefined), options);
    if (isPlainObject(group)) {
      checkNames(group, names, `${path}.`, `"${path}"`);
    }
  }
}

function checkNames(options: object, known: string[], prefix: string, of: string): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      const meant = known.find((candidate) => editDistance(candidate, name) <= 2);
      throw new Error(
        invalidOption(
          `${prefix}${name}`,
          `is not an option of ${of}${meant ? ` (did you mean "${prefix}${meant}"?)` : ''}`,
        ),
      );
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)
  );
}

/** Levenshtein distance between two short strings. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}
