/** Route the webhook endpoint is served on when `path` is not set. */
export const DEFAULT_WEBHOOK_PATH = 'webhooks/aqueduct';
/** Largest accepted request body when `maxBodyBytes` is not set: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Signed-timestamp tolerance, in seconds, either side of now. */
export const DEFAULT_TOLERANCE_SECONDS = 300;
/** How long the inbox insert may take before the request is answered 503. */
export const DEFAULT_STORE_TIMEOUT_MS = 5000;
/** `Retry-After` sent with a 503, in seconds. */
export const RETRY_AFTER_SECONDS = 60;

/** Header names the Standard Webhooks scheme reads (the `svix-*` names are accepted too). */
export const STANDARD_WEBHOOKS_HEADERS = {
  id: ['webhook-id', 'svix-id'],
  timestamp: ['webhook-timestamp', 'svix-timestamp'],
  signature: ['webhook-signature', 'svix-signature'],
} as const;

/** Header read by the `hmac` scheme when `header` is not set. */
export const DEFAULT_HMAC_HEADER = 'x-aqueduct-signature';
/** Header read by the `shared-secret` scheme when `header` is not set. */
export const DEFAULT_SHARED_SECRET_HEADER = 'authorization';

/** Metadata key set on the webhook route, so a host's global guard can let it through. */
export const AQUEDUCT_WEBHOOK_ROUTE = 'aqueduct:webhook-route';
