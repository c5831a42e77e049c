import { invalidOption } from '../aqueduct.messages';
import { DEFAULT_SCHEME } from './aqueduct-options.defaults';
import type { AqueductModuleOptions, VerificationOptions } from './aqueduct-options.interface';
import { normaliseSecrets } from './option-checks';

const SCHEMES = ['standard-webhooks', 'hmac', 'shared-secret', 'custom'];

/**
 * The scheme and the secrets together: a custom verifier needs no secret, every other scheme at
 * least one.
 */
export function resolveVerification(options: AqueductModuleOptions): {
  verification: VerificationOptions;
  secrets: string[];
} {
  const verification: VerificationOptions = options.verification ?? { scheme: DEFAULT_SCHEME };
  if (!verification || typeof verification !== 'object') {
    throw new Error(
      invalidOption(
        'verification',
        `must be an object like { scheme: 'standard-webhooks' }, got ${JSON.stringify(verification)}`,
      ),
    );
  }
  if (!SCHEMES.includes(verification.scheme)) {
    throw new Error(
      invalidOption(
        'verification.scheme',
        `must be one of ${SCHEMES.join(', ')}, got "${String(verification.scheme)}"`,
      ),
    );
  }
  const secrets = normaliseSecrets(options.secrets);
  if (verification.scheme === 'custom') {
    if (typeof verification.verifier !== 'function') {
      throw new Error(
        invalidOption('verification.verifier', 'must be a class implementing WebhookVerifier'),
      );
    }
  } else if (secrets.length === 0) {
    throw new Error(
      invalidOption(
        'secrets',
        'must hold at least one non-empty secret (is AQUEDUCT_WEBHOOK_SECRET set?)',
      ),
    );
  }
  checkVerification(verification);
  return { verification, secrets };
}

function checkVerification(verification: VerificationOptions): void {
  const tolerance = 'toleranceSeconds' in verification ? verification.toleranceSeconds : undefined;
  if (tolerance !== undefined && !(Number.isFinite(tolerance) && tolerance >= 0)) {
    throw new Error(
      invalidOption('verification.toleranceSeconds', 'must be a number of seconds >= 0'),
    );
  }
  if (verification.scheme === 'hmac') {
    const { algorithm, encoding } = verification;
    if (algorithm !== undefined && algorithm !== 'sha256' && algorithm !== 'sha512') {
      throw new Error(invalidOption('verification.algorithm', 'must be "sha256" or "sha512"'));
    }
    if (encoding !== undefined && encoding !== 'hex' && encoding !== 'base64') {
      throw new Error(invalidOption('verification.encoding', 'must be "hex" or "base64"'));
    }
  }
  for (const field of ['header', 'timestampHeader', 'deliveryIdHeader'] as const) {
    const value = (verification as unknown as Record<string, unknown>)[field];
    if (
      value !== undefined &&
      (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(value))
    ) {
      throw new Error(invalidOption(`verification.${field}`, 'must be an HTTP header name'));
    }
  }
}
