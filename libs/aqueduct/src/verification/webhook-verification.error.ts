/**
 * A request failed verification. `reason` is for the operator's log: it names what was wrong
 * (missing header, stale timestamp, no matching signature) and never carries a secret or signature.
 */
export class WebhookVerificationError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'WebhookVerificationError';
  }
}
