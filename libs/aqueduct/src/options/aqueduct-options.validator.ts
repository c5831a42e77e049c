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
import { checkOptionNames } from './option-names';
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
