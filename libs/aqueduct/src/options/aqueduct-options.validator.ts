import { invalidOption } from '../aqueduct.messages';
import { resolveAccess, resolveFeatures } from './access-options.validator';
import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_PREPARED_STATEMENTS,
  DEFAULT_STORE_TIMEOUT_MS,
  DEFAULT_WEBHOOK_PATH,
} from './aqueduct-options.defaults';
import type { AqueductModuleOptions } from './aqueduct-options.interface';
import type { ResolvedAqueductOptions } from './aqueduct-options.resolved';
import { resolveConsole } from './console-options.validator';
import { checkEmail } from './email-options.validator';
import {
  booleanOption,
  checkPublicUrl,
  normalisePath,
  positiveInteger,
  timerMs,
} from './option-checks';
import {
  resolveAlerts,
  resolveDispatch,
  resolveEndpointCheck,
  resolveExpiry,
  resolveHealth,
  resolveInvalidEvents,
  resolveMetrics,
  resolveRetention,
} from './runtime-options.validator';
import { resolveVerification } from './verification-options.validator';

/** Every option `AqueductModuleOptions` has (the type keeps this list complete). */
const OPTIONS: Record<keyof AqueductModuleOptions, true> = {
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
};
const OPTION_NAMES = Object.keys(OPTIONS);

/**
 * Checks the options once at start-up and fills in defaults, so a misconfiguration stops the app
 * with a message naming the field instead of answering 401 to every delivery.
 */
export function resolveAqueductOptions(options: AqueductModuleOptions): ResolvedAqueductOptions {
  if (!options || typeof options !== 'object') {
    throw new Error(invalidOption('options', 'must be an object'));
  }
  checkOptionNames(options);
  const { verification, secrets } = resolveVerification(options);
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
    storeTimeoutMs: timerMs('storeTimeoutMs', options.storeTimeoutMs, DEFAULT_STORE_TIMEOUT_MS),
    preparedStatements: booleanOption(
      'preparedStatements',
      options.preparedStatements,
      DEFAULT_PREPARED_STATEMENTS,
    ),
    dispatch: resolveDispatch(options.dispatch ?? {}),
    expiry: resolveExpiry(options.expiry ?? {}),
    retention: resolveRetention(options.retention),
    access: resolveAccess(options.access ?? {}),
    features: resolveFeatures(options.features),
    ...(publicUrl === undefined ? {} : { publicUrl }),
    endpointCheck: resolveEndpointCheck(options.endpointCheck, options.apiKey, publicUrl),
    invalidEvents: resolveInvalidEvents(options.invalidEvents),
    alerts: resolveAlerts(options.alerts),
    health: resolveHealth(options.health),
    metrics: resolveMetrics(options.metrics),
  };
}

/**
 * An option the module does not have is a typo that TypeScript misses in `forRootAsync`'s factory
 * (`acess: { requirePayment: true }` would grant access before payment): it stops the app, with the
 * option it most likely meant.
 */
function checkOptionNames(options: object): void {
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) {
      const meant = OPTION_NAMES.find((known) => editDistance(known, name) <= 2);
      throw new Error(
        invalidOption(
          name,
          `is not an option of AqueductModule${meant ? ` (did you mean "${meant}"?)` : ''}`,
        ),
      );
    }
  }
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
