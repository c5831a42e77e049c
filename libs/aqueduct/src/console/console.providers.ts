import { Logger, type Provider, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.validator';
import { ConsoleCsrf } from './console-csrf';
import { ConsoleView } from './console-view';

export const CONSOLE_ROUTE = Symbol('AQUEDUCT_CONSOLE_ROUTE');

/**
 * Mounts the console controller at the configured path, or, when the console is off, removes its
 * routes so that nothing answers there. Providers are instantiated before Nest reads routes, so
 * this works for `forRootAsync`, whose options are unknown when the module is declared.
 */
export function consoleRouteProvider(controller: Type<unknown>): Provider {
  return {
    provide: CONSOLE_ROUTE,
    inject: [AQUEDUCT_OPTIONS],
    useFactory: (options: ResolvedAqueductOptions) => {
      const consoleOptions = options.console;
      if (!consoleOptions) {
        for (const name of Object.getOwnPropertyNames(controller.prototype)) {
          const handler = controller.prototype[name];
          if (typeof handler === 'function' && Reflect.hasMetadata(METHOD_METADATA, handler)) {
            Reflect.deleteMetadata(PATH_METADATA, handler);
          }
        }
        return null;
      }
      Reflect.defineMetadata(PATH_METADATA, consoleOptions.path, controller);
      if (!consoleOptions.guard) {
        new Logger('AqueductModule').warn(
          `The Aqueduct console at /${consoleOptions.path} is open to anyone who can reach it ` +
            '(allowUnauthenticated). Use this for local development only; set console.guard otherwise.',
        );
      }
      return consoleOptions.path;
    },
  };
}

/** The console's parts; its controller is created per registration in `aqueduct.providers.ts`. */
export const consoleProviders: Provider[] = [ConsoleCsrf, ConsoleView];
