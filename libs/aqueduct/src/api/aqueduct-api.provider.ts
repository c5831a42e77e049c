import type { Provider } from '@nestjs/common';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AqueductApiClient } from './aqueduct-api.client';

/** `AqueductApiClient`, injectable when `apiKey` is in the options (inject it `@Optional()` otherwise). */
export const aqueductApiClientProvider: Provider = {
  provide: AqueductApiClient,
  inject: [AQUEDUCT_OPTIONS],
  useFactory: (options: ResolvedAqueductOptions) =>
    options.apiKey
      ? new AqueductApiClient({ apiKey: options.apiKey, baseUrl: options.apiBaseUrl })
      : undefined,
};
