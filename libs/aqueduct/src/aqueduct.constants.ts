/** `Retry-After` sent with a 503, in seconds. */
export const RETRY_AFTER_SECONDS = 60;

/** Header names the Standard Webhooks scheme reads (the `svix-*` names are accepted too). */
export const STANDARD_WEBHOOKS_HEADERS = {
  id: ['webhook-id', 'svix-id'],
  timestamp: ['webhook-timestamp', 'svix-timestamp'],
  signature: ['webhook-signature', 'svix-signature'],
} as const;

/** Metadata key set on the webhook route, so a host's global guard can let it through. */
export const AQUEDUCT_WEBHOOK_ROUTE = 'aqueduct:webhook-route';
