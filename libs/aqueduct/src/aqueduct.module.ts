import { type DynamicModule, Module } from '@nestjs/common';
import {
  AQUEDUCT_ASYNC_OPTIONS_TYPE,
  AQUEDUCT_OPTIONS_TYPE,
  ConfigurableAqueductModule,
} from './options/aqueduct-module.definition';
import { withAqueductInternals } from './aqueduct.providers';
import { resolveAqueductOptions } from './options/aqueduct-options.validator';

/**
 * Receives Aqueduct's billing webhooks: verifies, validates and durably stores each event before
 * answering. Import it once, with `forRoot` or `forRootAsync`.
 */
@Module({})
export class AqueductModule extends ConfigurableAqueductModule {
  static forRoot(options: typeof AQUEDUCT_OPTIONS_TYPE): DynamicModule {
    const { isGlobal: _isGlobal, ...moduleOptions } = options;
    // Fail where the module is declared, not at the first request.
    resolveAqueductOptions(moduleOptions);
    return withAqueductInternals(super.forRoot(options), moduleOptions);
  }

  static forRootAsync(options: typeof AQUEDUCT_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withAqueductInternals(super.forRootAsync(options));
  }
}
