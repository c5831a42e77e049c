import { WebhookVerificationError } from './webhook-verification.error';

/**
 * For the verifiers' unit specs: the reason `action` was refused with. Anything else it throws is
 * thrown again, and an action that is not refused at all fails the test. Free of Jest's globals on
 * purpose: the library's build (tsconfig.lib.json) takes every file that is not a spec, without
 * Jest's types.
 */
export function reasonOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) {
      throw error;
    }
    return error.reason;
  }
  throw new Error('expected verification to fail');
}
