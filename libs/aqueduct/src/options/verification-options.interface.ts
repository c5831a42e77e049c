import type { Type } from '@nestjs/common';
import type { WebhookVerifier } from './webhook-verifier.interface';

/** Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`; `svix-*` too). */
export interface StandardWebhooksVerification {
  scheme: 'standard-webhooks';
  /**
   * Allowed distance, in seconds, between the signed timestamp and now, in both directions.
   * @default 300
   */
  toleranceSeconds?: number;
}

/** HMAC of the raw body (optionally of `<timestamp>.<body>`) in one header. */
export interface HmacVerification {
  scheme: 'hmac';
  /**
   * Header carrying the signature.
   * @default 'x-aqueduct-signature'
   */
  header?: string;
  /**
   * Hash function.
   * @default 'sha256'
   */
  algorithm?: 'sha256' | 'sha512';
  /**
   * How the digest is written in the header.
   * @default 'hex'
   */
  encoding?: 'hex' | 'base64';
  /**
   * Text before the digest, e.g. `'sha256='` (GitHub style). Matched case-insensitively.
   * @default ''
   */
  prefix?: string;
  /**
   * Header carrying a Unix timestamp (seconds). When set, the signed content is
   * `<timestamp>.<raw body>` and the timestamp must lie within `toleranceSeconds` of now.
   * @default undefined (body only, no replay window)
   */
  timestampHeader?: string;
  /**
   * Allowed distance, in seconds, between the signed timestamp and now.
   * @default 300
   */
  toleranceSeconds?: number;
  /**
   * Header carrying a unique delivery id; when present it is the deduplication key.
   * @default undefined (a SHA-256 of the raw body is used)
   */
  deliveryIdHeader?: string;
}

/** The secret itself travels in a header (`Authorization: Bearer <secret>` by default). */
export interface SharedSecretVerification {
  scheme: 'shared-secret';
  /**
   * Header carrying the secret. For `authorization`, a `Bearer ` (or `Api-Key `) prefix is removed.
   * @default 'authorization'
   */
  header?: string;
  /**
   * Header carrying a unique delivery id; when present it is the deduplication key.
   * @default undefined (a SHA-256 of the raw body is used)
   */
  deliveryIdHeader?: string;
}

/** The host's own verifier class, instantiated by Nest (it may inject providers). */
export interface CustomVerification {
  scheme: 'custom';
  verifier: Type<WebhookVerifier>;
}

export type VerificationOptions =
  StandardWebhooksVerification | HmacVerification | SharedSecretVerification | CustomVerification;

export type VerificationScheme = VerificationOptions['scheme'];
