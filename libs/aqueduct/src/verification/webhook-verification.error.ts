/**
 * Why a request failed verification, as counted in metrics and alerts:
 * - `missing`: it carries no credentials of the configured scheme;
 * - `malformed`: they are there but cannot be read (a digest that is not hex, a timestamp that is
 *   not Unix seconds);
 * - `stale-timestamp`: signed too long ago (or in the future): a replay, or a clock off;
 * - `bad-signature`: no configured secret matches.
 */
export type VerificationFailureKind = 'missing' | 'malformed' | 'stale-timestamp' | 'bad-signature';

/**
 * A request failed verification. `reason` is for the operator's log: it names what was wrong
 * (missing header, stale timestamp, no matching signature) and never carries a secret or signature.
 */
export class WebhookVerificationError extends Error {
  constructor(
    readonly reason: string,
    readonly kind: VerificationFailureKind = 'bad-signature',
    /**
     * The signature matched a configured secret: the request came from the sender (a
     * `stale-timestamp` one was signed with our secret, only too long ago or ahead).
     */
    readonly authentic = false,
  ) {
    super(reason);
    this.name = 'WebhookVerificationError';
  }
}
