import type { Provider } from '@nestjs/common';
import { AQUEDUCT_MODULE_OPTIONS } from './aqueduct-module.definition';
import type { AqueductModuleOptions } from './aqueduct-options.interface';
import { resolveAqueductOptions } from './aqueduct-options.validator';

/** Internal token: the validated options with defaults filled in. */
export const AQUEDUCT_OPTIONS = Symbol('AQUEDUCT_OPTIONS');

export const resolvedOptionsProvider: Provider = {
  provide: AQUEDUCT_OPTIONS,
  inject: [AQUEDUCT_MODULE_OPTIONS],
  useFactory: (options: AqueductModuleOptions) => resolveAqueductOptions(options),
};
