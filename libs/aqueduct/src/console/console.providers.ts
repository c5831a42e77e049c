import { Logger, type OnApplicationBootstrap, type Provider, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ApplicationConfig, HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import { consoleOpen, consoleServed } from '../aqueduct.messages';
import { describePaths, servedPaths } from '../http/served-paths';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type {
  ResolvedAqueductOptions,
  ResolvedConsoleOptions,
} from '../options/aqueduct-options.resolved';
import { CONSOLE_HOME_HANDLER } from './console.controller';
import { ConsoleCsrf } from './console-csrf';
import { ConsoleView } from './console-view';

export const CONSOLE_ROUTE = Symbol('AQUEDUCT_CONSOLE_ROUTE');

/**
 * Mounts the console controller at the configured path, or, when the console is off, leaves it
 * without any path, so that nothing answers there and nothing is logged. Providers are
 * instantiated before Nest reads routes, so this works for `forRootAsync`, whose options are
 * unknown when the module is declared (and so when its controllers are).
 */
export function consoleRouteProvider(controller: Type<unknown>): Provider {
  return {
    provide: CONSOLE_ROUTE,
    inject: [AQUEDUCT_OPTIONS, ApplicationConfig, ModulesContainer, HttpAdapterHost],
    useFactory: (
      options: ResolvedAqueductOptions,
      config: ApplicationConfig,
      modules: ModulesContainer,
      adapterHost: HttpAdapterHost,
    ) => {
      const consoleOptions = options.console;
      if (!consoleOptions) {
        // Nest's RoutesResolver maps, and logs ("AqueductConsoleController {/}:"), each path of
        // a controller's path list: an empty list gives it neither a route nor a log line. The
        // handlers lose their paths too, for any other reader of the metadata (an OpenAPI
        // generator).
        Reflect.defineMetadata(PATH_METADATA, [], controller);
        for (const name of Object.getOwnPropertyNames(controller.prototype)) {
          const handler = controller.prototype[name];
          if (typeof handler === 'function' && Reflect.hasMetadata(METHOD_METADATA, handler)) {
            Reflect.deleteMetadata(PATH_METADATA, handler);
          }
        }
        return null;
      }
      Reflect.defineMetadata(PATH_METADATA, consoleOptions.path, controller);
      return new ConsoleRoute(controller, consoleOptions, config, modules, adapterHost);
    },
  };
}

/**
 * Logs, once at start-up, where the console is served (global prefix included, known only once
 * the host's main.ts has set it, before `init()`), and warns when it is open to anyone.
 */
class ConsoleRoute implements OnApplicationBootstrap {
  constructor(
    private readonly controller: Type<unknown>,
    private readonly options: ResolvedConsoleOptions,
    private readonly config: ApplicationConfig,
    private readonly modules: ModulesContainer,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.adapterHost.httpAdapter) {
      return; // An application context without HTTP (a worker, the CLI) serves no console.
    }
    // VERSION_NEUTRAL, like the webhook: URI versioning adds nothing to the path.
    const paths = servedPaths(this.config, this.modules, this.controller, CONSOLE_HOME_HANDLER);
    const logger = new Logger('AqueductModule');
    if (this.options.guard) {
      logger.log(consoleServed(describePaths(paths), this.options.guard.name));
    } else {
      logger.warn(consoleOpen(describePaths(paths)));
    }
  }
}

/** The console's parts; its controller is created per registration in `aqueduct.providers.ts`. */
export const consoleProviders: Provider[] = [ConsoleCsrf, ConsoleView];
