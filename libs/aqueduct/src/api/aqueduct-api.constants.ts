/** Where Aqueduct's API is served when `baseUrl` is not set. */
export const DEFAULT_API_BASE_URL = 'https://api.tryaqueduct.com';
/** How long one attempt (request and response body) may take when `timeoutMs` is not set. */
export const DEFAULT_API_TIMEOUT_MS = 10_000;
/** Retries after the first attempt when `maxRetries` is not set: four attempts in all. */
export const DEFAULT_API_MAX_RETRIES = 3;
/** First retry delay when `retryBaseDelayMs` is not set; each next one doubles, with jitter. */
export const DEFAULT_API_RETRY_BASE_DELAY_MS = 500;
/** Longest computed backoff between two attempts. */
export const API_RETRY_MAX_DELAY_MS = 10_000;
/**
 * Longest `Retry-After` the client waits for. A longer one (an hour of rate limiting) fails the
 * call at once: holding a caller's request that long is worse than telling it to come back later.
 */
export const API_MAX_RETRY_AFTER_MS = 60_000;
/** Longest error message kept from a response body, so an HTML error page does not fill a log. */
export const API_ERROR_MESSAGE_MAX_LENGTH = 500;
/** Longest `Idempotency-Key` accepted (Stripe's limit; Aqueduct documents none). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/** Sent as `User-Agent`, so Aqueduct's logs can tell this client's calls apart. */
export const API_USER_AGENT = 'nestjs-aqueduct';

/** Aqueduct's API paths. */
export const API_PATHS = {
  webhookEndpoints: '/v1/webhookendpoints',
  /** `GET /v1/provisioning/{provisioningId}`, singular, as Aqueduct's API reference names it. */
  provisioning: (id: string) => `/v1/provisioning/${encodeURIComponent(id)}`,
} as const;

/** Client-side `code` of an `AqueductApiError` whose 2xx response was not the expected JSON. */
export const UNEXPECTED_RESPONSE = 'unexpected_response';

/** Replaces the API key wherever a response or a network error might have echoed it. */
export const REDACTED = '[redacted]';
