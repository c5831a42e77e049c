import { invalidOption } from '../aqueduct.messages';
import {
  ACCESS_CACHE_DEFAULTS,
  ACCESS_DEFAULTS,
  MAX_SETTLE_MS,
  MAX_TIMER_MS,
} from './aqueduct-options.defaults';
import type {
  AccessCacheOptions,
  AccessFallback,
  AccessOptions,
  AqueductModuleOptions,
} from './aqueduct-options.interface';
import type { ResolvedAccessOptions } from './aqueduct-options.resolved';

export function resolveAccess(access: AccessOptions): ResolvedAccessOptions {
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
  const validSettle = typeof settleMs === 'number' && Number.isInteger(settleMs);
  if (!validSettle || settleMs < 0 || settleMs > MAX_SETTLE_MS) {
    throw new Error(
      invalidOption(
        'access.settleMs',
        `must be an integer number of ms from 0 to ${MAX_SETTLE_MS} (a year)`,
      ),
    );
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
    // The ms are timers' (a read's timeout) or compared with them: a timer holds 2^31 - 1 at most.
    const max = name.endsWith('Ms') ? MAX_TIMER_MS : Number.MAX_SAFE_INTEGER;
    if (typeof given !== 'number' || !Number.isInteger(given) || given < min || given > max) {
      const range = max === MAX_TIMER_MS ? `from ${min} to ${max}` : `>= ${min}`;
      throw new Error(invalidOption(`access.cache.${name}`, `must be an integer ${range}`));
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

export function resolveFeatures(
  features: AqueductModuleOptions['features'],
): Record<string, string[]> {
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
