/** Options of `new AqueductApiClient()`. */
export interface AqueductApiClientOptions {
  /** Aqueduct API key, sent as `Authorization: Api-Key <key>`. Never logged nor put in an error. */
  apiKey: string;
  /**
   * Root of Aqueduct's API (a path prefix is kept, a trailing slash is not needed).
   * @default 'https://api.tryaqueduct.com'
   */
  baseUrl?: string;
  /**
   * How long one attempt may take, response body included, before it is abandoned (and retried).
   * @default 10000
   */
  timeoutMs?: number;
  /**
   * Retries after the first attempt, for 429, 5xx, network errors and timeouts. Other 4xx are
   * never retried. `0` turns retries off.
   * @default 3
   */
  maxRetries?: number;
  /**
   * First retry delay; each next one doubles (with jitter) up to 10 s. A `Retry-After` header
   * (seconds or HTTP date) takes precedence.
   * @default 500
   */
  retryBaseDelayMs?: number;
  /**
   * The `fetch` to call, for tests or a proxy-aware implementation.
   * @default globalThis.fetch (Node's own)
   */
  fetch?: typeof fetch;
}

/** Per-call options of a POST. */
export interface AqueductPostOptions {
  /**
   * Sent as `Idempotency-Key`; Aqueduct keeps it at least 24 h, so repeating the call with the
   * same key (after a crash, say) cannot create a second object. The same key is reused by every
   * retry of one call either way.
   * @default a random UUID per call
   */
  idempotencyKey?: string;
}

/** Body of `createWebhookEndpoint()`. */
export interface CreateWebhookEndpointInput {
  /** Where Aqueduct delivers events; must be `http(s)://`. */
  url: string;
  /**
   * Events to deliver, in either spelling: `provisioning.start` (as delivered) or
   * `provisioning_start` (as the API names them). Sent in the API's underscore form.
   */
  enabledEvents: string[];
  /** Secret Aqueduct authenticates its deliveries with (the module's `secrets`). */
  secret: string;
  /** Free text shown in Aqueduct's dashboard. */
  description?: string;
}

/**
 * A webhook endpoint as Aqueduct returns it, with `enabledEvents` in the dotted form deliveries use
 * (`provisioning.start`). Fields not listed are kept as they came.
 */
export interface AqueductWebhookEndpoint {
  /** `web_...` */
  id: string;
  url: string;
  enabledEvents: string[];
  /** As Aqueduct sent it (ISO 8601). */
  createdAt: string;
  description?: string | null;
  /** Only in the answer to the creation. */
  secret?: string;
  [extra: string]: unknown;
}
