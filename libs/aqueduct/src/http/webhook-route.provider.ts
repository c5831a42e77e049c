import type { Provider, Type } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.validator';

export const WEBHOOK_ROUTE = Symbol('AQUEDUCT_WEBHOOK_ROUTE');

/**
 * Sets the webhook controller's path from the resolved options. Providers are all instantiated
 * before Nest reads controller paths, so this works for `forRootAsync` too.
 */
export function webhookRouteProvider(controller: Type<unknown>): Provider {
  return {
    provide: WEBHOOK_ROUTE,
    inject: [AQUEDUCT_OPTIONS],
    useFactory: (options: ResolvedAqueductOptions) => {
      Reflect.defineMetadata(PATH_METADATA, options.path, controller);
      return options.path;
    },
  };
}
