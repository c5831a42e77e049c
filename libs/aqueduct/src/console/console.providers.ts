import { Logger, type Provider, type Type } from '@nestjs/common';
import { consoleOpen, consoleServed } from '../aqueduct.messages';
import { describePaths } from '../http/served-paths';
import { servedRouteProvider } from '../http/served-route.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { CONSOLE_HOME_HANDLER } from './console.controller';
import { ConsoleActions } from './console-actions';
import { ConsoleCsrf } from './console-csrf';
import { ConsoleReads } from './console-reads';
import { ConsoleView } from './console-view';

export const CONSOLE_ROUTE = Symbol('AQUEDUCT_CONSOLE_ROUTE');

/**
 * Mounts the console controller at the configured path, or, when the console is off, leaves it
 * without any path, so that nothing answers there and nothing is logged. Providers are
 * instantiated before Nest reads routes, so this works for `forRootAsync`, whose options are
 * unknown when the module is declared (and so when its controllers are).
 */
export function consoleRouteProvider(controller: Type<unknown>): Provider {
  return servedRouteProvider({
    provide: CONSOLE_ROUTE,
    controller,
    handler: CONSOLE_HOME_HANDLER,
    path: (options) => options.console?.path ?? null,
    announce: announceConsole,
  });
}

/**
 * Logs, once at start-up, where the console is served (global prefix included, known only once
 * the host's main.ts has set it, before `init()`), and warns when it is open to anyone.
 */
function announceConsole(paths: string[], options: ResolvedAqueductOptions): void {
  const logger = new Logger('AqueductModule');
  const guard = options.console?.guard;
  if (guard) {
    logger.log(consoleServed(describePaths(paths), guard.name));
  } else {
    logger.warn(consoleOpen(describePaths(paths)));
  }
}

/** The console's parts; its controller is created per registration in `aqueduct.providers.ts`. */
export const consoleProviders: Provider[] = [
  ConsoleCsrf,
  ConsoleView,
  ConsoleReads,
  ConsoleActions,
];
