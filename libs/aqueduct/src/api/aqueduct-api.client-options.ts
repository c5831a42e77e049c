import {
  DEFAULT_API_BASE_URL,
  DEFAULT_API_MAX_RETRIES,
  DEFAULT_API_RETRY_BASE_DELAY_MS,
  DEFAULT_API_TIMEOUT_MS,
} from './aqueduct-api.constants';
import type { AqueductApiClientOptions } from './aqueduct-api.interfaces';
import { MALFORMED_API_KEY, MISSING_API_KEY, invalidClientOption } from './aqueduct-api.messages';
import { HEADER_TOKEN, isHttpUrl } from './aqueduct-api.syntax';

/** The client's options, checked, with every default filled in. */
export interface ResolvedApiClientOptions {
  apiKey: string;
  /** Without a trailing slash: paths are appended to it. */
  baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  retryBaseDelayMs: number;
  fetch: typeof fetch;
}

/** Checks the options of `new AqueductApiClient(options)`, throwing on the first one that is wrong. */
export function resolveApiClientOptions(
  options: AqueductApiClientOptions,
): ResolvedApiClientOptions {
  if (!options || typeof options !== 'object') {
    throw new Error(invalidClientOption('options', 'must be an object with at least "apiKey"'));
  }
  const apiKey = checkApiKey(options.apiKey);
  const baseUrl = checkBaseUrl(options.baseUrl ?? DEFAULT_API_BASE_URL);
  const timeoutMs = checkNumber('timeoutMs', options.timeoutMs, DEFAULT_API_TIMEOUT_MS, 1);
  const maxRetries = checkNumber('maxRetries', options.maxRetries, DEFAULT_API_MAX_RETRIES, 0);
  const retryBaseDelayMs = checkNumber(
    'retryBaseDelayMs',
    options.retryBaseDelayMs,
    DEFAULT_API_RETRY_BASE_DELAY_MS,
    0,
  );
  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw new Error(invalidClientOption('fetch', 'must be a function'));
  }
  // Looked up per call, not captured: a test that stubs globalThis.fetch later still reaches it.
  const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return { apiKey, baseUrl, timeoutMs, maxRetries, retryBaseDelayMs, fetch: fetchImpl };
}

function checkApiKey(apiKey: unknown): string {
  if (typeof apiKey !== 'string' || apiKey.trim() === '') {
    throw new Error(MISSING_API_KEY);
  }
  const trimmed = apiKey.trim();
  if (!HEADER_TOKEN.test(trimmed)) {
    throw new Error(MALFORMED_API_KEY);
  }
  return trimmed;
}

function checkBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl !== 'string' || !isHttpUrl(baseUrl)) {
    throw new Error(invalidClientOption('baseUrl', 'must be an absolute http:// or https:// URL'));
  }
  return new URL(baseUrl).href.replace(/\/+$/, '');
}

function checkNumber(field: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(invalidClientOption(field, `must be an integer >= ${min}`));
  }
  return value;
}
