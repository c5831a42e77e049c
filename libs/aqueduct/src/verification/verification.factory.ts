import type {
  HmacVerification,
  SharedSecretVerification,
  StandardWebhooksVerification,
} from '../options/verification-options.interface';
import { HmacVerifier } from './hmac.verifier';
import { SharedSecretVerifier } from './shared-secret.verifier';
import { StandardWebhooksVerifier } from './standard-webhooks.verifier';

/** The schemes the library verifies itself: every one but `custom`, whose verifier is the host's. */
export type BuiltInVerification =
  StandardWebhooksVerification | HmacVerification | SharedSecretVerification;

/** A verifier of one of the built-in schemes. */
export type BuiltInVerifier = StandardWebhooksVerifier | HmacVerifier | SharedSecretVerifier;

/** The verifier of a built-in scheme, holding every configured secret (several during a rotation). */
export function builtInVerifier(
  secrets: readonly string[],
  verification: BuiltInVerification,
): BuiltInVerifier {
  switch (verification.scheme) {
    case 'standard-webhooks':
      return new StandardWebhooksVerifier(secrets, verification);
    case 'hmac':
      return new HmacVerifier(secrets, verification);
    case 'shared-secret':
      return new SharedSecretVerifier(secrets, verification);
  }
}
