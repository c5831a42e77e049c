import type { IncomingHttpHeaders } from 'node:http';

/** What a verifier is given: the body exactly as received and the request headers. */
export interface WebhookRequest {
  /** The request body, byte for byte as received. Never re-serialised. */
  rawBody: Buffer;
  /** Request headers, names lower-cased (as Node delivers them). */
  headers: IncomingHttpHeaders;
}

/** What a verifier learned from a genuine request. */
export interface VerifiedWebhook {
  /** The sender's id of this delivery, stable across retries, when the scheme carries one. */
  deliveryId?: string;
  /**
   * Whether the signature covers `deliveryId`. Only then is it the deduplication key: an id from
   * an unsigned header could turn one captured body into several events. Otherwise events are
   * deduplicated on the SHA-256 of the raw body, and the id is only stored.
   * @default false
   */
  deliveryIdSigned?: boolean;
  /** When the sender signed the request, when the scheme carries it. */
  signedAt?: Date;
}

/**
 * Decides whether a request really comes from Aqueduct. Implementations throw
 * `WebhookVerificationError` (its reason is logged, never sent back) for anything not genuine.
 */
export interface WebhookVerifier {
  verify(request: WebhookRequest): VerifiedWebhook | Promise<VerifiedWebhook>;
}

/** Injection token of the active `WebhookVerifier`. */
export const WEBHOOK_VERIFIER = Symbol('WEBHOOK_VERIFIER');
