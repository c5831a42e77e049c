import { validateCronExpression } from 'cron';
import { invalidOption } from '../aqueduct.messages';
import {
  ALERT_DEFAULTS,
  DEFAULT_INVALID_EVENTS,
  DISPATCH_DEFAULTS,
  ENDPOINT_CHECK_INTERVAL_MS,
  ENDPOINT_CHECK_MIN_INTERVAL_MS,
  EXPIRY_DEFAULTS,
  HEALTH_DEFAULTS,
  MAX_PAUSE_RATIO,
  MAX_TIMER_MS,
  METRICS_DEFAULTS,
  RETENTION_DEFAULTS,
} from './aqueduct-options.defaults';
import type {
  AlertOptions,
  DispatchOptions,
  EndpointCheckOptions,
  ExpiryOptions,
  HealthOptions,
  MetricsOptions,
  RetentionOptions,
} from './aqueduct-options.interface';
import type { ResolvedAqueductOptions } from './aqueduct-options.resolved';
import { booleanOption, positiveInteger, ratioOption, timerMs } from './option-checks';

/** The options of the background work: dispatch, expiry, retention, alerts, health, metrics. */

export function resolveEndpointCheck(
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

export function resolveInvalidEvents(value: unknown): 'quarantine' | 'reject' {
  if (value === undefined) {
    return DEFAULT_INVALID_EVENTS;
  }
  if (value !== 'quarantine' && value !== 'reject') {
    throw new Error(invalidOption('invalidEvents', 'must be "quarantine" or "reject"'));
  }
  return value;
}

export function resolveExpiry(expiry: ExpiryOptions): Required<ExpiryOptions> {
  return {
    enabled: booleanOption('expiry.enabled', expiry.enabled, EXPIRY_DEFAULTS.enabled),
    cron: cronOption('expiry.cron', expiry.cron, EXPIRY_DEFAULTS.cron),
    batchSize: positiveInteger('expiry.batchSize', expiry.batchSize, EXPIRY_DEFAULTS.batchSize),
  };
}

export function resolveRetention(
  retention: RetentionOptions | undefined,
): Required<RetentionOptions> {
  if (retention !== undefined && (!retention || typeof retention !== 'object')) {
    throw new Error(invalidOption('retention', 'must be an object'));
  }
  const given = retention ?? {};
  const flag = (key: 'enabled' | 'includeQuarantined' | 'includeDead') =>
    booleanOption(`retention.${key}`, given[key], RETENTION_DEFAULTS[key]);
  const count = (key: 'olderThanDays' | 'batchSize') =>
    positiveInteger(`retention.${key}`, given[key], RETENTION_DEFAULTS[key]);
  return {
    enabled: flag('enabled'),
    olderThanDays: count('olderThanDays'),
    cron: cronOption('retention.cron', given.cron, RETENTION_DEFAULTS.cron),
    batchSize: count('batchSize'),
    pauseRatio: ratioOption(
      'retention.pauseRatio',
      given.pauseRatio,
      RETENTION_DEFAULTS.pauseRatio,
      MAX_PAUSE_RATIO,
    ),
    includeQuarantined: flag('includeQuarantined'),
    includeDead: flag('includeDead'),
  };
}

/**
 * A cron expression of 5 or 6 fields, checked as the `cron` package will run it: its own error,
 * thrown when the job starts, would not name the option.
 */
function cronOption(field: string, value: unknown, fallback: string): string {
  if (value === undefined) {
    return fallback;
  }
  const fields = typeof value === 'string' ? value.trim().split(/\s+/).length : 0;
  const checked = fields >= 5 ? validateCronExpression(value as string) : null;
  if (!checked?.valid) {
    const why = checked?.error ? ` (${checked.error.message})` : '';
    throw new Error(invalidOption(field, `must be a cron expression such as "* * * * *"${why}`));
  }
  return value as string;
}

export function resolveDispatch(dispatch: DispatchOptions): Required<DispatchOptions> {
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
      const check = key.endsWith('Ms') ? timerMs : positiveInteger;
      (resolved as Record<string, unknown>)[key] = check(`dispatch.${key}`, value, 0);
    }
  }
  return resolved;
}

export function resolveAlerts(alerts: AlertOptions | undefined): Required<AlertOptions> {
  if (alerts !== undefined && (!alerts || typeof alerts !== 'object')) {
    throw new Error(invalidOption('alerts', 'must be an object'));
  }
  return {
    verificationFailures: positiveInteger(
      'alerts.verificationFailures',
      alerts?.verificationFailures,
      ALERT_DEFAULTS.verificationFailures,
    ),
    verificationWindowMs: positiveInteger(
      'alerts.verificationWindowMs',
      alerts?.verificationWindowMs,
      ALERT_DEFAULTS.verificationWindowMs,
    ),
    silenceAfterMs: silenceAfterMs(alerts?.silenceAfterMs),
  };
}

/** `alerts.silenceAfterMs`: ms, or 0 for off. */
function silenceAfterMs(value: unknown): number {
  if (value === undefined) {
    return ALERT_DEFAULTS.silenceAfterMs;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new Error(
      invalidOption('alerts.silenceAfterMs', 'must be an integer number of ms >= 0 (0: off)'),
    );
  }
  return value;
}

export function resolveHealth(
  health: HealthOptions | undefined,
): ResolvedAqueductOptions['health'] {
  if (health !== undefined && (!health || typeof health !== 'object')) {
    throw new Error(invalidOption('health', 'must be an object'));
  }
  const maxDeadDeliveries = health?.maxDeadDeliveries;
  if (
    maxDeadDeliveries !== undefined &&
    (typeof maxDeadDeliveries !== 'number' ||
      !Number.isInteger(maxDeadDeliveries) ||
      maxDeadDeliveries < 0)
  ) {
    throw new Error(invalidOption('health.maxDeadDeliveries', 'must be an integer >= 0'));
  }
  return {
    ...health,
    maxPendingAgeMs: positiveInteger(
      'health.maxPendingAgeMs',
      health?.maxPendingAgeMs,
      HEALTH_DEFAULTS.maxPendingAgeMs,
    ),
  };
}

export function resolveMetrics(
  metrics: MetricsOptions | undefined,
): ResolvedAqueductOptions['metrics'] {
  if (metrics !== undefined && (!metrics || typeof metrics !== 'object')) {
    throw new Error(invalidOption('metrics', 'must be an object'));
  }
  if (metrics?.enabled !== undefined && typeof metrics.enabled !== 'boolean') {
    throw new Error(invalidOption('metrics.enabled', 'must be true or false'));
  }
  const prefix = metrics?.prefix ?? METRICS_DEFAULTS.prefix;
  // Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*
  if (typeof prefix !== 'string' || !/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix)) {
    throw new Error(
      invalidOption('metrics.prefix', 'must be a Prometheus name prefix, e.g. "aqueduct_"'),
    );
  }
  return { ...metrics, prefix };
}
