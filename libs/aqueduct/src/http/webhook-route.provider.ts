import { Logger, type Provider, type Type } from '@nestjs/common';
import { schemeInUse } from '../aqueduct.messages';
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
    announce: (paths, { verification, secrets }) =>
      new Logger('AqueductModule').log(
        schemeInUse(verification.scheme, describePaths(paths), secrets.length),
      ),
  });
}
