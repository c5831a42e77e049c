import type { Provider, Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.validator';
import { AQUEDUCT_CLOCK, systemClock } from './aqueduct-clock';
import { LoggingProvisioningAdapter } from './logging-provisioning.adapter';
import { PROVISIONING_ADAPTER, type ProvisioningAdapter } from './provisioning-adapter.interface';

export const clockProvider: Provider = { provide: AQUEDUCT_CLOCK, useValue: systemClock };

/**
 * The host's adapter, taken from the host's own providers when registered there (so it can inject
 * the host's services), else instantiated here; the logging adapter when none is configured.
 */
export const provisioningAdapterProvider: Provider = {
  provide: PROVISIONING_ADAPTER,
  inject: [AQUEDUCT_OPTIONS, ModuleRef],
  useFactory: (options: ResolvedAqueductOptions, moduleRef: ModuleRef): ProvisioningAdapter => {
    if (!options.provisioningAdapter) {
      return new LoggingProvisioningAdapter();
    }
    const adapter = lazyHostInstance(moduleRef, options.provisioningAdapter);
    return {
      provision: async (grant) => (await adapter()).provision(grant),
      deprovision: async (grant) => (await adapter()).deprovision(grant),
      update: async (grant, previous) => (await adapter()).update(grant, previous),
    };
  },
};

/**
 * A class the host configured: its registered instance if it has one (looked up at first use,
 * once every module is instantiated), else a new one created with the module's injector.
 */
export function lazyHostInstance<T>(moduleRef: ModuleRef, type: Type<T>): () => Promise<T> {
  let instance: Promise<T> | undefined;
  return () =>
    (instance ??= (async () => {
      try {
        return moduleRef.get<T>(type, { strict: false }) as T;
      } catch {
        return moduleRef.create(type);
      }
    })());
}
