import { createHmac, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import {
  DEFAULT_HMAC_HEADER,
  DEFAULT_SHARED_SECRET_HEADER,
} from '../options/aqueduct-options.defaults';
import type {
  HmacVerification,
  SharedSecretVerification,
  StandardWebhooksVerification,
} from '../options/aqueduct-options.interface';

type SchemeSettings =
  | Omit<StandardWebhooksVerification, 'toleranceSeconds'>
  | Omit<HmacVerification, 'toleranceSeconds'>
  | SharedSecretVerification;

export type SignAqueductRequestOptions = SchemeSettings & {
  /** The secret to sign with (for `shared-secret`, the value sent). */
  secret: string;
  /** Delivery id (`webhook-id`, or the scheme's `deliveryIdHeader`). @default a random id */
  id?: string;
  /** Signing time. @default now */
  timestamp?: Date;
};

/** A body and the headers Aqueduct would send with it under the given scheme. */
export interface SignedAqueductRequest {
  body: string;
  headers: Record<string, string>;
}

/**
 * Signs a webhook body the way the chosen scheme expects, for tests and for the CLI's `send`.
 * Objects are serialised once; the exact string returned is what must be sent.
 */
export function signAqueductRequest(
  payload: unknown,
  options: SignAqueductRequestOptions,
): SignedAqueductRequest {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const timestamp = options.timestamp ?? new Date();
  const seconds = Math.floor(timestamp.getTime() / 1000);
  const id = options.id ?? `msg_${randomUUID().replace(/-/g, '')}`;
  switch (options.scheme) {
    case 'standard-webhooks':
      headers['webhook-id'] = id;
      headers['webhook-timestamp'] = String(seconds);
      headers['webhook-signature'] = new Webhook(options.secret).sign(id, timestamp, body);
      break;
    case 'hmac': {
      const signed = options.timestampHeader ? `${seconds}.${body}` : body;
      const digest = createHmac(options.algorithm ?? 'sha256', options.secret)
        .update(signed)
        .digest(options.encoding ?? 'hex');
      headers[(options.header ?? DEFAULT_HMAC_HEADER).toLowerCase()] =
        `${options.prefix ?? ''}${digest}`;
      if (options.timestampHeader) {
        headers[options.timestampHeader.toLowerCase()] = String(seconds);
      }
      if (options.deliveryIdHeader) {
        headers[options.deliveryIdHeader.toLowerCase()] = id;
      }
      break;
    }
    case 'shared-secret': {
      const header = (options.header ?? DEFAULT_SHARED_SECRET_HEADER).toLowerCase();
      headers[header] = header === 'authorization' ? `Bearer ${options.secret}` : options.secret;
      if (options.deliveryIdHeader) {
        headers[options.deliveryIdHeader.toLowerCase()] = id;
      }
      break;
    }
  }
  return { body, headers };
}
