import { Logger, type Provider, type Type } from '@nestjs/common';
import { publicUrlElsewhere, schemeInUse } from '../aqueduct.messages';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { describePaths } from './served-paths';
import { servedRouteProvider } from './served-route.provider';
import { WEBHOOK_HANDLER } from './webhook.controller';

export const WEBHOOK_ROUTE = Symbol('AQUEDUCT_WEBHOOK_ROUTE');

/**
 * Sets the webhook controller's path from the resolved options (`forRootAsync` too). Once the app
 * is up, it logs the URL path a sender must POST to and the scheme that verifies it.
 */
export function webhookRouteProvider(controller: Type<unknown>): Provider {
  return servedRouteProvider({
    provide: WEBHOOK_ROUTE,
    controller,
    handler: WEBHOOK_HANDLER,
    path: (options) => options.path,
    announce: (paths, options) => {
      const logger = new Logger('AqueductModule');
      const { verification, secrets } = options;
      logger.log(schemeInUse(verification.scheme, describePaths(paths), secrets.length));
      const elsewhere = publicPathElsewhere(options, paths);
      if (elsewhere) {
        logger.warn(publicUrlElsewhere(options.publicUrl!, elsewhere, describePaths(paths)));
      }
    },
  });
}

/**
 * `publicUrl`'s path when no served path is it (README examples copied with their `/api`, a global
 * prefix added or removed later); undefined when it matches, or no `publicUrl` is set.
 */
function publicPathElsewhere(
  options: ResolvedAqueductOptions,
  paths: string[],
): string | undefined {
  if (!options.publicUrl || paths.length === 0) {
    return undefined;
  }
  const trimmed = (path: string) => path.replace(/\/+$/, '') || '/';
  const publicPath = trimmed(new URL(options.publicUrl).pathname);
  return paths.some((path) => trimmed(path) === publicPath) ? undefined : publicPath;
}
