import type { Provider } from '@nestjs/common';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AQUEDUCT_CLOCK, systemClock } from './aqueduct-clock';
import { HostInstances } from '../options/host-instances';
import { LoggingProvisioningAdapter } from './logging-provisioning.adapter';
import {
  PROVISIONING_ADAPTER,
  type ProvisioningAdapter,
} from '../options/provisioning-adapter.interface';

export const clockProvider: Provider = { provide: AQUEDUCT_CLOCK, useValue: systemClock };

/**
 * The host's adapter, taken from the host's own providers when registered there (so it can inject
 * the host's services), else instantiated here; the logging adapter when none is configured.
 */
export const provisioningAdapterProvider: Provider = {
  provide: PROVISIONING_ADAPTER,
  inject: [AQUEDUCT_OPTIONS, HostInstances],
  useFactory: (
    options: ResolvedAqueductOptions,
    hostInstances: HostInstances,
  ): ProvisioningAdapter => {
    if (!options.provisioningAdapter) {
      return new LoggingProvisioningAdapter();
    }
    const adapter = hostInstances.lazy(
      options.provisioningAdapter,
      'provisioningAdapter',
      'dispatch',
    );
    return {
      provision: async (grant) => (await adapter()).provision(grant),
      deprovision: async (grant) => (await adapter()).deprovision(grant),
      update: async (grant, previous) => (await adapter()).update(grant, previous),
    };
  },
};
