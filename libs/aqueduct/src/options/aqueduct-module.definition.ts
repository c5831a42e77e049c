import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AqueductModuleOptions } from './interfaces/aqueduct-options.interface';

export const {
  ConfigurableModuleClass: ConfigurableAqueductModule,
  MODULE_OPTIONS_TOKEN: AQUEDUCT_MODULE_OPTIONS,
  OPTIONS_TYPE: AQUEDUCT_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: AQUEDUCT_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<AqueductModuleOptions>({ moduleName: 'Aqueduct' })
  .setClassMethodName('forRoot')
  .build();
