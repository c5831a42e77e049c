import { Logger, type OnApplicationBootstrap, type Provider, type Type } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { ApplicationConfig, HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import { schemeInUse } from '../aqueduct.messages';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { describePaths, servedPaths } from './served-paths';
import { WEBHOOK_HANDLER } from './webhook.controller';

export const WEBHOOK_ROUTE = Symbol('AQUEDUCT_WEBHOOK_ROUTE');

/**
 * Sets the webhook controller's path from the resolved options. Providers are all instantiated
 * before Nest reads controller paths, so this works for `forRootAsync` too. Once the app is up,
 * the route is logged where it is served (see `WebhookRoute`).
 */
export function webhookRouteProvider(controller: Type<unknown>): Provider {
  return {
    provide: WEBHOOK_ROUTE,
    inject: [AQUEDUCT_OPTIONS, ApplicationConfig, ModulesContainer, HttpAdapterHost],
    useFactory: (
      options: ResolvedAqueductOptions,
      config: ApplicationConfig,
      modules: ModulesContainer,
      adapterHost: HttpAdapterHost,
    ) => {
      Reflect.defineMetadata(PATH_METADATA, options.path, controller);
      return new WebhookRoute(controller, options, config, modules, adapterHost);
    },
  };
}

/**
 * Logs, once at start-up, the URL path a sender must POST to and the scheme that verifies it. Not
 * earlier: the host's main.ts sets the global prefix between `NestFactory.create()` (which builds
 * the providers) and `init()`, and this is where a reader copies the path from.
 */
class WebhookRoute implements OnApplicationBootstrap {
  constructor(
    private readonly controller: Type<unknown>,
    private readonly options: ResolvedAqueductOptions,
    private readonly config: ApplicationConfig,
    private readonly modules: ModulesContainer,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.adapterHost.httpAdapter) {
      return; // An application context without HTTP (a worker, the CLI) serves no endpoint.
    }
    // The controller is VERSION_NEUTRAL, so URI versioning adds no "/v1" to its path (Nest's
    // RoutePathFactory maps VERSION_NEUTRAL to no version segment, and header or media-type
    // versioning never changes a path): this is the one path it is served at, also with
    // `enableVersioning({ type: URI, defaultVersion: '1' })` (see test/host-setup.e2e-spec.ts).
    const paths = servedPaths(this.config, this.modules, this.controller, WEBHOOK_HANDLER);
    const { verification, secrets } = this.options;
    new Logger('AqueductModule').log(
      schemeInUse(verification.scheme, describePaths(paths), secrets.length),
    );
  }
}
