import { createHmac } from 'node:crypto';
import {
  DEFAULT_HMAC_HEADER,
  DEFAULT_TOLERANCE_SECONDS,
} from '../options/aqueduct-options.defaults';
import type { HmacVerification } from '../options/aqueduct-options.interface';
import { anyMatch, checkSignedAt, readHeader } from './verification.utils';
import { WebhookVerificationError } from './webhook-verification.error';
import type {
  VerifiedWebhook,
  WebhookRequest,
  WebhookVerifier,
} from '../options/webhook-verifier.interface';

const HEX = /^[0-9a-f]+$/i;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * HMAC of the raw body in one header, e.g. GitHub's `X-Hub-Signature-256: sha256=<hex>`.
 * With `timestampHeader`, the signed content is `<timestamp>.<body>` and a replay window applies.
 */
export class HmacVerifier implements WebhookVerifier {
  private readonly header: string;
  private readonly prefix: string;

  constructor(
    private readonly secrets: readonly string[],
    private readonly options: HmacVerification,
  ) {
    this.header = (options.header ?? DEFAULT_HMAC_HEADER).toLowerCase();
    this.prefix = (options.prefix ?? '').toLowerCase();
  }

  verify({ rawBody, headers }: WebhookRequest): VerifiedWebhook {
    const value = readHeader(headers, this.header);
    if (!value) {
      throw new WebhookVerificationError(`missing header: ${this.header}`, 'missing');
    }
    const timestampHeader = this.options.timestampHeader;
    let signedAt: Date | undefined;
    if (timestampHeader) {
      const timestamp = readHeader(headers, timestampHeader);
      if (!timestamp) {
        throw new WebhookVerificationError(`missing header: ${timestampHeader}`, 'missing');
      }
      const content = Buffer.concat([Buffer.from(`${timestamp}.`), rawBody]);
      signedAt = checkSignedAt(
        timestamp,
        this.options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS,
        () => this.matches(value, content),
      );
    } else if (!this.matches(value, rawBody)) {
      throw new WebhookVerificationError('no signature matches any configured secret');
    }
    // The signature covers the body (and timestamp), not the id: kept, but never a dedup key.
    const deliveryId = this.options.deliveryIdHeader
      ? readHeader(headers, this.options.deliveryIdHeader)
      : undefined;
    return { deliveryId, deliveryIdSigned: false, signedAt };
  }

  /** Whether the header's digests hold one of `content` under a configured secret. */
  private matches(value: string, content: Buffer): boolean {
    const offered = value
      .split(/[,\s]+/) // comma or space separated (several during a key rotation)
      .map((part) => this.decode(part.trim()))
      .filter((digest): digest is Buffer => digest !== undefined);
    if (offered.length === 0) {
      throw new WebhookVerificationError(
        `${this.header} does not hold a ${this.encoding} digest`,
        'malformed',
      );
    }
    const algorithm = this.options.algorithm ?? 'sha256';
    const expected = this.secrets.map((secret) =>
      createHmac(algorithm, secret).update(content).digest(),
    );
    return anyMatch(offered, expected);
  }

  private get encoding(): 'hex' | 'base64' {
    return this.options.encoding ?? 'hex';
  }

  private decode(part: string): Buffer | undefined {
    if (!part.toLowerCase().startsWith(this.prefix)) {
      return undefined;
    }
    const digest = part.slice(this.prefix.length);
    if (this.encoding === 'hex') {
      return HEX.test(digest) && digest.length % 2 === 0 ? Buffer.from(digest, 'hex') : undefined;
    }
    return BASE64.test(digest) ? Buffer.from(digest, 'base64') : undefined;
  }
}
