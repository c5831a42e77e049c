import { DEFAULT_SHARED_SECRET_HEADER } from '../options/aqueduct-options.defaults';
import type { SharedSecretVerification } from '../options/aqueduct-options.interface';
import { anyMatch, readHeader, sha256 } from './verification.utils';
import { WebhookVerificationError } from './webhook-verification.error';
import type {
  VerifiedWebhook,
  WebhookRequest,
  WebhookVerifier,
} from '../options/webhook-verifier.interface';

/** `Authorization: Bearer <secret>` (or `Api-Key <secret>`); other headers carry the bare secret. */
const AUTHORIZATION_SCHEME = /^(bearer|api-key|token)\s+/i;

/**
 * The secret itself travels in a header. Weaker than a signature (nothing binds it to the body,
 * no replay window) but it is what the Aqueduct guide's "use the API key as the secret" suggests.
 */
export class SharedSecretVerifier implements WebhookVerifier {
  private readonly header: string;
  /** The secrets' SHA-256: compared to the offered value's, their lengths stay hidden. */
  private readonly secretDigests: Buffer[];

  constructor(
    secrets: readonly string[],
    private readonly options: SharedSecretVerification,
  ) {
    this.header = (options.header ?? DEFAULT_SHARED_SECRET_HEADER).toLowerCase();
    this.secretDigests = secrets.map(sha256);
  }

  verify({ headers }: WebhookRequest): VerifiedWebhook {
    const value = readHeader(headers, this.header);
    if (!value) {
      throw new WebhookVerificationError(`missing header: ${this.header}`, 'missing');
    }
    const offered =
      this.header === 'authorization' ? value.replace(AUTHORIZATION_SCHEME, '') : value;
    if (!anyMatch([sha256(offered)], this.secretDigests)) {
      throw new WebhookVerificationError(`${this.header} does not match any configured secret`);
    }
    // Nothing here is signed: the id is kept, but never a dedup key.
    const deliveryId = this.options.deliveryIdHeader
      ? readHeader(headers, this.options.deliveryIdHeader)
      : undefined;
    return { deliveryId, deliveryIdSigned: false };
  }
}
