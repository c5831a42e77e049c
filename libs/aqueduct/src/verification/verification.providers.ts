import type { Provider } from '@nestjs/common';
import { HostInstances } from '../options/host-instances';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { builtInVerifier } from './verification.factory';
import { WEBHOOK_VERIFIER, type WebhookVerifier } from '../options/webhook-verifier.interface';

/**
 * Picks the one configured `WebhookVerifier`. The scheme is named in the start-up log by
 * `webhookRouteProvider`, with the route as served, once the global prefix is known.
 */
export const webhookVerifierProvider: Provider = {
  provide: WEBHOOK_VERIFIER,
  inject: [AQUEDUCT_OPTIONS, HostInstances],
  useFactory: async (
    options: ResolvedAqueductOptions,
    hostInstances: HostInstances,
  ): Promise<WebhookVerifier> => {
    const { verification, secrets } = options;
    if (verification.scheme === 'custom') {
      const verifier = hostInstances.lazy(verification.verifier, 'verification.verifier', 'http');
      return { verify: async (request) => (await verifier()).verify(request) };
    }
    return builtInVerifier(secrets, verification);
  },
};
