import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { STANDARD_WEBHOOKS_HEADERS } from '../aqueduct.constants';
import { DEFAULT_TOLERANCE_SECONDS } from '../options/aqueduct-options.defaults';
import { invalidOption } from '../aqueduct.messages';
import type { StandardWebhooksVerification } from '../options/aqueduct-options.interface';
import { anyMatch, checkSignedAt, readHeader } from './verification.utils';
import { WebhookVerificationError } from './webhook-verification.error';
import type {
  VerifiedWebhook,
  WebhookRequest,
  WebhookVerifier,
} from '../options/webhook-verifier.interface';

const SIGNATURE_VERSION = 'v1';
const WHSEC_PREFIX = /^whsec_/;

/**
 * The Standard Webhooks scheme (https://www.standardwebhooks.com): HMAC-SHA256 of
 * `<id>.<timestamp>.<body>` with a `whsec_` base64 secret, `v1,<base64>` signatures, several of
 * them space-separated. The `standardwebhooks` package computes the signature; the timestamp window
 * is checked here because the package's is fixed at 300 s.
 */
export class StandardWebhooksVerifier implements WebhookVerifier {
  private readonly keys: Buffer[];
  private readonly toleranceSeconds: number;

  constructor(secrets: readonly string[], options: StandardWebhooksVerification) {
    this.toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
    // A whsec_ secret has no whitespace of its own: the form with it (see `secrets`) is dropped.
    const usable = secrets.filter((s) => s === s.trim() || !secrets.includes(s.trim()));
    this.keys = usable.map((secret, index) => {
      try {
        new Webhook(secret); // throws on anything that is not a valid whsec_<base64> secret
        return Buffer.from(secret.replace(WHSEC_PREFIX, ''), 'base64');
      } catch {
        throw new Error(
          invalidOption(`secrets[${index}]`, 'is not a Standard Webhooks secret (whsec_<base64>)'),
        );
      }
    });
  }

  verify({ rawBody, headers }: WebhookRequest): VerifiedWebhook {
    const id = readHeader(headers, ...STANDARD_WEBHOOKS_HEADERS.id);
    const timestamp = readHeader(headers, ...STANDARD_WEBHOOKS_HEADERS.timestamp);
    const signature = readHeader(headers, ...STANDARD_WEBHOOKS_HEADERS.signature);
    const missing = [
      !id && 'webhook-id',
      !timestamp && 'webhook-timestamp',
      !signature && 'webhook-signature',
    ];
    if (!id || !timestamp || !signature) {
      throw new WebhookVerificationError(
        `missing header(s): ${missing.filter(Boolean).join(', ')}`,
        'missing',
      );
    }
    const signedAt = checkSignedAt(timestamp, this.toleranceSeconds, () => {
      const offered = parseSignatures(signature);
      if (offered.length === 0) {
        throw new WebhookVerificationError(
          `no ${SIGNATURE_VERSION} signature in webhook-signature`,
          'malformed',
        );
      }
      const signedContent = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), rawBody]);
      const expected = this.keys.map((key) =>
        Buffer.from(createHmac('sha256', key).update(signedContent).digest('base64')),
      );
      return anyMatch(offered, expected);
    });
    // The id is part of the signed content: a safe dedup key.
    return { deliveryId: id, deliveryIdSigned: true, signedAt };
  }
}

/** `v1,abc= v1,def=` (repeated headers arrive joined by `, `) → the v1 signatures. */
function parseSignatures(header: string): Buffer[] {
  return header
    .split(/\s+/)
    .map((part) => part.replace(/,$/, ''))
    .filter((part) => part.startsWith(`${SIGNATURE_VERSION},`))
    .map((part) => Buffer.from(part.slice(SIGNATURE_VERSION.length + 1)));
}
