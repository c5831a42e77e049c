import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AqueductModuleOptions } from './aqueduct-options.interface';

/** Given next to the options (`forRoot({ ..., isGlobal })`), read when the module is defined. */
export interface AqueductModuleExtras {
  /**
   * Register the module globally, so that `AqueductAccessService`, `@RequiresEntitlement` and the
   * other exports work in every module of the host without importing it there.
   * @default true
   */
  isGlobal?: boolean;
}

export const {
  ConfigurableModuleClass: ConfigurableAqueductModule,
  MODULE_OPTIONS_TOKEN: AQUEDUCT_MODULE_OPTIONS,
  OPTIONS_TYPE: AQUEDUCT_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: AQUEDUCT_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<AqueductModuleOptions>({ moduleName: 'Aqueduct' })
  .setClassMethodName('forRoot')
  .setExtras<AqueductModuleExtras>({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
