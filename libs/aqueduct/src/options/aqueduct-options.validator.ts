import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_STORE_TIMEOUT_MS,
  DEFAULT_WEBHOOK_PATH,
} from '../aqueduct.constants';
import { invalidOption } from '../aqueduct.messages';
import type {
  AqueductModuleOptions,
  DispatchOptions,
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
}

export const EXPIRY_DEFAULTS: Required<ExpiryOptions> = {
  enabled: true,
  cron: '* * * * *',
  batchSize: 500,
};

export const DISPATCH_DEFAULTS: Required<DispatchOptions> = {
  enabled: true,
  concurrency: 10,
  maxAttempts: 8,
  retryBaseDelayMs: 30_000,
  retryMaxDelayMs: 3_600_000,
  leaseMs: 60_000,
  pollIntervalMs: 1_000,
  shutdownTimeoutMs: 10_000,
};

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
  if (options.ledger !== undefined && typeof options.ledger !== 'boolean') {
    throw new Error(invalidOption('ledger', 'must be true or false'));
  }
  const resolver = options.access?.customerIdResolver;
  if (resolver !== undefined && typeof resolver !== 'function') {
    throw new Error(
      invalidOption('access.customerIdResolver', 'must be a function of the request'),
    );
  }
  return {
    ...options,
    secrets,
    verification,
    path: normalisePath(options.path ?? DEFAULT_WEBHOOK_PATH),
    maxBodyBytes: positiveInteger('maxBodyBytes', options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES),
    storeTimeoutMs: positiveInteger(
      'storeTimeoutMs',
      options.storeTimeoutMs,
      DEFAULT_STORE_TIMEOUT_MS,
    ),
    dispatch: resolveDispatch(options.dispatch ?? {}),
    expiry: resolveExpiry(options.expiry ?? {}),
  };
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

function normalisePath(path: unknown): string {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new Error(invalidOption('path', 'must be a non-empty route path'));
  }
  const normalised = path.trim().replace(/^\/+|\/+$/g, '');
  if (normalised === '') {
    throw new Error(invalidOption('path', 'must not be the root path'));
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
