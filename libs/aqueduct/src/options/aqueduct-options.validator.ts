import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_STORE_TIMEOUT_MS,
  DEFAULT_WEBHOOK_PATH,
} from '../aqueduct.constants';
import { invalidOption } from '../aqueduct.messages';
import {
  CONSOLE_DEFAULTS,
  CONSOLE_MAX_PAGE_SIZE,
  CSRF_SECRET_MIN_LENGTH,
} from '../console/console.constants';
import type {
  AlertOptions,
  AccessCacheOptions,
  AccessFallback,
  AccessOptions,
  AqueductConsoleOptions,
  AqueductModuleOptions,
  DispatchOptions,
  EndpointCheckOptions,
  ExpiryOptions,
  VerificationOptions,
} from '../interfaces/aqueduct-options.interface';

/** Options after validation, with every default filled in. */
export interface ResolvedAqueductOptions extends AqueductModuleOptions {
  secrets: string[];
  verification: VerificationOptions;
  path: string;
  maxBodyBytes: number;
  storeTimeoutMs: number;
  dispatch: Required<DispatchOptions>;
  expiry: Required<ExpiryOptions>;
  access: ResolvedAccessOptions;
  features: Record<string, string[]>;
  invalidEvents: 'quarantine' | 'reject';
  alerts: Required<AlertOptions>;
  endpointCheck: Required<EndpointCheckOptions>;
  console?: ResolvedConsoleOptions;
}

/** Access options with their defaults. */
export interface ResolvedAccessOptions extends AccessOptions {
  requirePayment: boolean;
  settleMs: number;
  /** `false` when the cache is off. */
  cache: Required<AccessCacheOptions> | false;
  fallback: AccessFallback | Record<string, AccessFallback>;
}

/** Console options after validation: absent when the console is off. */
export interface ResolvedConsoleOptions extends AqueductConsoleOptions {
  path: string;
  allowUnauthenticated: boolean;
  pageSize: number;
}

export const EXPIRY_DEFAULTS: Required<ExpiryOptions> = {
  enabled: true,
  cron: '* * * * *',
  batchSize: 500,
};

export const ACCESS_CACHE_DEFAULTS: Required<AccessCacheOptions> = {
  maxEntries: 100_000,
  disconnectedTtlMs: 1000,
  loadTimeoutMs: 1000,
  retryMs: 1000,
};

export const ACCESS_DEFAULTS = {
  requirePayment: false,
  settleMs: 300_000,
  cache: ACCESS_CACHE_DEFAULTS,
  fallback: 'deny' as AccessFallback,
};

export const ALERT_DEFAULTS: Required<AlertOptions> = {
  verificationFailures: 5,
  verificationWindowMs: 600_000,
};

/** `endpointCheck.intervalMs` when not given: a deleted or changed endpoint is noticed within hours. */
export const ENDPOINT_CHECK_INTERVAL_MS = 3 * 3_600_000;
/** Shortest interval: a typo (hours for ms) must not poll Aqueduct's API in a loop. */
const ENDPOINT_CHECK_MIN_INTERVAL_MS = 1_000;
/** Longest delay `setInterval` takes; above it Node fires at once, every millisecond. */
const MAX_TIMER_MS = 2_147_483_647;

export const DISPATCH_DEFAULTS: Required<DispatchOptions> = {
  enabled: true,
  concurrency: 10,
  maxAttempts: 8,
  retryBaseDelayMs: 30_000,
  retryMaxDelayMs: 3_600_000,
  leaseMs: 60_000,
  pollIntervalMs: 1_000,
  shutdownTimeoutMs: 10_000,
  localBacklogPerSlot: 50,
};

const EMAIL_TEMPLATE_NAMES = [
  'access-started',
  'access-renewed',
  'period-ended',
  'access-ended',
  'delivery-dead',
  'operator-alert',
];

const SCHEMES = ['standard-webhooks', 'hmac', 'shared-secret', 'custom'];

/**
 * Checks the options once at start-up and fills in defaults, so a misconfiguration stops the app
 * with a message naming the field instead of answering 401 to every delivery.
 */
export function resolveAqueductOptions(options: AqueductModuleOptions): ResolvedAqueductOptions {
  if (!options || typeof options !== 'object') {
    throw new Error(invalidOption('options', 'must be an object'));
  }
  const verification: VerificationOptions = options.verification ?? { scheme: 'shared-secret' };
  if (!SCHEMES.includes(verification.scheme)) {
    throw new Error(
      invalidOption(
        'verification.scheme',
        `must be one of ${SCHEMES.join(', ')}, got "${String(verification.scheme)}"`,
      ),
    );
  }
  const secrets = normaliseSecrets(options.secrets);
  if (verification.scheme === 'custom') {
    if (typeof verification.verifier !== 'function') {
      throw new Error(
        invalidOption('verification.verifier', 'must be a class implementing WebhookVerifier'),
      );
    }
  } else if (secrets.length === 0) {
    throw new Error(
      invalidOption(
        'secrets',
        'must hold at least one non-empty secret (is AQUEDUCT_WEBHOOK_SECRET set?)',
      ),
    );
  }
  checkVerification(verification);
  if (
    options.provisioningAdapter !== undefined &&
    typeof options.provisioningAdapter !== 'function'
  ) {
    throw new Error(
      invalidOption('provisioningAdapter', 'must be a class implementing ProvisioningAdapter'),
    );
  }
  checkEmail(options);
  const publicUrl = checkPublicUrl(options.publicUrl);
  if (options.ledger !== undefined && typeof options.ledger !== 'boolean') {
    throw new Error(invalidOption('ledger', 'must be true or false'));
  }
  const path = normalisePath(options.path ?? DEFAULT_WEBHOOK_PATH);
  const consoleOptions = resolveConsole(options.console, secrets, path);
  const { console: _console, ...rest } = options;
  return {
    ...rest,
    ...(consoleOptions ? { console: consoleOptions } : {}),
    secrets,
    verification,
    path,
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES),
    storeTimeoutMs: positiveInteger(
      'storeTimeoutMs',
      options.storeTimeoutMs,
      DEFAULT_STORE_TIMEOUT_MS,
    ),
    dispatch: resolveDispatch(options.dispatch ?? {}),
    expiry: resolveExpiry(options.expiry ?? {}),
    access: resolveAccess(options.access ?? {}),
    features: resolveFeatures(options.features),
    ...(publicUrl === undefined ? {} : { publicUrl }),
    endpointCheck: resolveEndpointCheck(options.endpointCheck, options.apiKey, publicUrl),
    invalidEvents: resolveInvalidEvents(options.invalidEvents),
    alerts: {
      verificationFailures: positiveInteger(
        'alerts.verificationFailures',
        options.alerts?.verificationFailures,
        ALERT_DEFAULTS.verificationFailures,
      ),
      verificationWindowMs: positiveInteger(
        'alerts.verificationWindowMs',
        options.alerts?.verificationWindowMs,
        ALERT_DEFAULTS.verificationWindowMs,
      ),
    },
  };
}

function checkPublicUrl(value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  const problem =
    'must be the absolute http:// or https:// URL at which Aqueduct reaches the webhook ' +
    'endpoint, e.g. "https://app.example.com/api/webhooks/aqueduct"';
  if (typeof value !== 'string') {
    throw new Error(invalidOption('publicUrl', problem));
  }
  try {
    const { protocol } = new URL(value.trim());
    if (protocol === 'http:' || protocol === 'https:') {
      return value.trim();
    }
  } catch {
    // reported below
  }
  throw new Error(invalidOption('publicUrl', problem));
}

function resolveEndpointCheck(
  check: EndpointCheckOptions | undefined,
  apiKey: unknown,
  publicUrl: string | undefined,
): Required<EndpointCheckOptions> {
  if (check !== undefined && (!check || typeof check !== 'object')) {
    throw new Error(
      invalidOption('endpointCheck', 'must be an object with enabled and intervalMs'),
    );
  }
  const configured = typeof apiKey === 'string' && apiKey.trim() !== '' && !!publicUrl;
  const enabled = check?.enabled ?? configured;
  if (typeof enabled !== 'boolean') {
    throw new Error(invalidOption('endpointCheck.enabled', 'must be true or false'));
  }
  if (enabled && !configured) {
    throw new Error(
      invalidOption(
        'endpointCheck.enabled',
        'needs both apiKey and publicUrl (the check lists the endpoints with the API key and ' +
          'looks for publicUrl among them)',
      ),
    );
  }
  const intervalMs = check?.intervalMs ?? ENDPOINT_CHECK_INTERVAL_MS;
  if (
    typeof intervalMs !== 'number' ||
    !Number.isInteger(intervalMs) ||
    intervalMs < ENDPOINT_CHECK_MIN_INTERVAL_MS ||
    intervalMs > MAX_TIMER_MS
  ) {
    throw new Error(
      invalidOption(
        'endpointCheck.intervalMs',
        `must be an integer number of ms from ${ENDPOINT_CHECK_MIN_INTERVAL_MS} to ${MAX_TIMER_MS}`,
      ),
    );
  }
  return { enabled, intervalMs };
}

function resolveInvalidEvents(value: unknown): 'quarantine' | 'reject' {
  if (value === undefined) {
    return 'quarantine';
  }
  if (value !== 'quarantine' && value !== 'reject') {
    throw new Error(invalidOption('invalidEvents', 'must be "quarantine" or "reject"'));
  }
  return value;
}

function resolveAccess(access: AccessOptions): ResolvedAccessOptions {
  if (!access || typeof access !== 'object') {
    throw new Error(invalidOption('access', 'must be an object'));
  }
  const resolver = access.customerIdResolver;
  if (resolver !== undefined && typeof resolver !== 'function') {
    throw new Error(
      invalidOption('access.customerIdResolver', 'must be a function of the request'),
    );
  }
  if (access.requirePayment !== undefined && typeof access.requirePayment !== 'boolean') {
    throw new Error(invalidOption('access.requirePayment', 'must be true or false'));
  }
  const settleMs = access.settleMs ?? ACCESS_DEFAULTS.settleMs;
  if (typeof settleMs !== 'number' || !Number.isInteger(settleMs) || settleMs < 0) {
    throw new Error(invalidOption('access.settleMs', 'must be an integer number of ms >= 0'));
  }
  return {
    ...access,
    requirePayment: access.requirePayment ?? ACCESS_DEFAULTS.requirePayment,
    settleMs,
    cache: resolveAccessCache(access.cache),
    fallback: resolveFallback(access.fallback),
  };
}

function resolveAccessCache(cache: AccessCacheOptions | false | undefined) {
  if (cache === false) {
    return false;
  }
  if (cache !== undefined && (cache === null || typeof cache !== 'object')) {
    throw new Error(invalidOption('access.cache', 'must be an object or false'));
  }
  const value = (name: keyof AccessCacheOptions, min: number) => {
    const given = cache?.[name] ?? ACCESS_CACHE_DEFAULTS[name];
    if (typeof given !== 'number' || !Number.isInteger(given) || given < min) {
      throw new Error(invalidOption(`access.cache.${name}`, `must be an integer >= ${min}`));
    }
    return given;
  };
  return {
    maxEntries: value('maxEntries', 1),
    disconnectedTtlMs: value('disconnectedTtlMs', 0),
    loadTimeoutMs: value('loadTimeoutMs', 1),
    retryMs: value('retryMs', 0),
  };
}

function resolveFallback(
  fallback: AccessOptions['fallback'],
): AccessFallback | Record<string, AccessFallback> {
  const valid = (value: unknown): value is AccessFallback => value === 'deny' || value === 'allow';
  if (fallback === undefined) {
    return ACCESS_DEFAULTS.fallback;
  }
  if (valid(fallback)) {
    return fallback;
  }
  if (fallback && typeof fallback === 'object' && !Array.isArray(fallback)) {
    for (const [product, value] of Object.entries(fallback)) {
      if (!valid(value)) {
        throw new Error(invalidOption(`access.fallback.${product}`, 'must be "deny" or "allow"'));
      }
    }
    return { ...fallback };
  }
  throw new Error(
    invalidOption(
      'access.fallback',
      'must be "deny", "allow" or { [productId]: "deny" | "allow" }',
    ),
  );
}

function resolveFeatures(features: AqueductModuleOptions['features']): Record<string, string[]> {
  if (features === undefined) {
    return {};
  }
  if (!features || typeof features !== 'object' || Array.isArray(features)) {
    throw new Error(invalidOption('features', 'must be { [productId]: string[] }'));
  }
  const resolved: Record<string, string[]> = {};
  for (const [product, list] of Object.entries(features)) {
    if (!Array.isArray(list) || list.some((f) => typeof f !== 'string' || f === '')) {
      throw new Error(invalidOption(`features.${product}`, 'must be an array of feature names'));
    }
    resolved[product] = [...new Set(list)];
  }
  return resolved;
}

function resolveConsole(
  options: AqueductConsoleOptions | undefined,
  secrets: string[],
  webhookPath: string,
): ResolvedConsoleOptions | undefined {
  if (options === undefined) {
    return undefined;
  }
  if (!options || typeof options !== 'object') {
    throw new Error(invalidOption('console', 'must be an object with path and guard'));
  }
  const { guard, allowUnauthenticated, csrfSecret } = options;
  if (allowUnauthenticated !== undefined && typeof allowUnauthenticated !== 'boolean') {
    throw new Error(invalidOption('console.allowUnauthenticated', 'must be true or false'));
  }
  if (guard !== undefined && typeof guard !== 'function') {
    throw new Error(invalidOption('console.guard', 'must be a class implementing CanActivate'));
  }
  if (guard === undefined && allowUnauthenticated !== true) {
    throw new Error(
      invalidOption(
        'console.guard',
        'is required: the console shows payloads and replays events. Give a CanActivate class, ' +
          'or set console.allowUnauthenticated: true for local development only',
      ),
    );
  }
  if (
    csrfSecret !== undefined &&
    (typeof csrfSecret !== 'string' || csrfSecret.length < CSRF_SECRET_MIN_LENGTH)
  ) {
    throw new Error(
      invalidOption(
        'console.csrfSecret',
        `must be a string of ${CSRF_SECRET_MIN_LENGTH}+ characters`,
      ),
    );
  }
  if (csrfSecret === undefined && secrets.length === 0) {
    throw new Error(
      invalidOption(
        'console.csrfSecret',
        'is required when no webhook secret is configured (it signs the console forms)',
      ),
    );
  }
  const path = normalisePath(options.path ?? CONSOLE_DEFAULTS.path, 'console.path');
  if (path === webhookPath) {
    throw new Error(invalidOption('console.path', 'must differ from the webhook path'));
  }
  const pageSize = positiveInteger('console.pageSize', options.pageSize, CONSOLE_DEFAULTS.pageSize);
  if (pageSize > CONSOLE_MAX_PAGE_SIZE) {
    throw new Error(invalidOption('console.pageSize', `must be at most ${CONSOLE_MAX_PAGE_SIZE}`));
  }
  return { ...options, path, allowUnauthenticated: allowUnauthenticated ?? false, pageSize };
}

function resolveExpiry(expiry: ExpiryOptions): Required<ExpiryOptions> {
  if (expiry.enabled !== undefined && typeof expiry.enabled !== 'boolean') {
    throw new Error(invalidOption('expiry.enabled', 'must be true or false'));
  }
  if (
    expiry.cron !== undefined &&
    (typeof expiry.cron !== 'string' || expiry.cron.trim().split(/\s+/).length < 5)
  ) {
    throw new Error(invalidOption('expiry.cron', 'must be a cron expression such as "* * * * *"'));
  }
  return {
    enabled: expiry.enabled ?? EXPIRY_DEFAULTS.enabled,
    cron: expiry.cron ?? EXPIRY_DEFAULTS.cron,
    batchSize: positiveInteger('expiry.batchSize', expiry.batchSize, EXPIRY_DEFAULTS.batchSize),
  };
}

function resolveDispatch(dispatch: DispatchOptions): Required<DispatchOptions> {
  const resolved = { ...DISPATCH_DEFAULTS };
  for (const key of Object.keys(DISPATCH_DEFAULTS) as (keyof DispatchOptions)[]) {
    const value = dispatch[key];
    if (value === undefined) {
      continue;
    }
    if (key === 'enabled') {
      if (typeof value !== 'boolean') {
        throw new Error(invalidOption('dispatch.enabled', 'must be true or false'));
      }
      resolved.enabled = value;
    } else if (key === 'localBacklogPerSlot') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
        throw new Error(invalidOption('dispatch.localBacklogPerSlot', 'must be an integer >= 0'));
      }
      resolved.localBacklogPerSlot = value;
    } else {
      (resolved as Record<string, unknown>)[key] = positiveInteger(`dispatch.${key}`, value, 0);
    }
  }
  return resolved;
}

function normaliseSecrets(secrets: unknown): string[] {
  if (secrets === undefined) {
    return [];
  }
  const list = Array.isArray(secrets) ? secrets : [secrets];
  list.forEach((secret, index) => {
    if (typeof secret !== 'string' || secret.trim() === '') {
      throw new Error(invalidOption(`secrets[${index}]`, 'must be a non-empty string'));
    }
  });
  return list as string[];
}

function checkVerification(verification: VerificationOptions): void {
  const tolerance = 'toleranceSeconds' in verification ? verification.toleranceSeconds : undefined;
  if (tolerance !== undefined && !(Number.isFinite(tolerance) && tolerance >= 0)) {
    throw new Error(
      invalidOption('verification.toleranceSeconds', 'must be a number of seconds >= 0'),
    );
  }
  if (verification.scheme === 'hmac') {
    const { algorithm, encoding } = verification;
    if (algorithm !== undefined && algorithm !== 'sha256' && algorithm !== 'sha512') {
      throw new Error(invalidOption('verification.algorithm', 'must be "sha256" or "sha512"'));
    }
    if (encoding !== undefined && encoding !== 'hex' && encoding !== 'base64') {
      throw new Error(invalidOption('verification.encoding', 'must be "hex" or "base64"'));
    }
  }
  for (const field of ['header', 'timestampHeader', 'deliveryIdHeader'] as const) {
    const value = (verification as unknown as Record<string, unknown>)[field];
    if (
      value !== undefined &&
      (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(value))
    ) {
      throw new Error(invalidOption(`verification.${field}`, 'must be an HTTP header name'));
    }
  }
}

function normalisePath(path: unknown, field = 'path'): string {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new Error(invalidOption(field, 'must be a non-empty route path'));
  }
  const normalised = path.trim().replace(/^\/+|\/+$/g, '');
  if (normalised === '') {
    throw new Error(invalidOption(field, 'must not be the root path'));
  }
  return normalised;
}

function positiveInteger(field: string, value: unknown, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(invalidOption(field, 'must be a positive integer'));
  }
  return value;
}

function checkEmail(options: AqueductModuleOptions): void {
  const email = options.email;
  if (email === undefined) {
    return;
  }
  if (!email || typeof email !== 'object') {
    throw new Error(invalidOption('email', 'must be an object with transport and from'));
  }
  if (typeof email.from !== 'string' || !email.from.includes('@')) {
    throw new Error(
      invalidOption('email.from', 'must be a sender address, e.g. "Billing <billing@example.com>"'),
    );
  }
  const transport = email.transport as unknown;
  if (!transport || (typeof transport !== 'string' && typeof transport !== 'object')) {
    throw new Error(
      invalidOption(
        'email.transport',
        'must be an SMTP URL, nodemailer transport options or a transport',
      ),
    );
  }
  const mails = email.mails as unknown;
  if (mails !== undefined) {
    if (!mails || typeof mails !== 'object') {
      throw new Error(invalidOption('email.mails', 'must map mail names to true or false'));
    }
    for (const [name, on] of Object.entries(mails)) {
      if (!EMAIL_TEMPLATE_NAMES.includes(name) || typeof on !== 'boolean') {
        throw new Error(
          invalidOption(
            `email.mails.${name}`,
            `must be true or false, for one of ${EMAIL_TEMPLATE_NAMES.join(', ')}`,
          ),
        );
      }
    }
  }
  if (email.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: email.timeZone });
    } catch {
      throw new Error(
        invalidOption('email.timeZone', `"${email.timeZone}" is not an IANA time zone`),
      );
    }
  }
}
