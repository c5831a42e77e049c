import type { OnApplicationBootstrap, Provider, Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ApplicationConfig, HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { servedPaths } from './served-paths';

/** A controller of the module whose path comes from the options. */
export interface ServedRoute {
  /** The provider's token. */
  provide: symbol;
  controller: Type<unknown>;
  /** The handler whose served paths `announce` is given. */
  handler: string;
  /** The controller's path for these options, or `null` to serve nothing at all. */
  path(options: ResolvedAqueductOptions): string | null;
  /** Logs where the route is served, once the app is up. */
  announce(paths: string[], options: ResolvedAqueductOptions): void;
}

/** What a served route's provider gives (null when the route serves nothing). */
export interface ServedRouteHandle {
  /** The paths the route is served at (global prefix included); from `init()` on. */
  paths(): string[];
}

/**
 * A provider that sets a controller's path from the resolved options. Providers are all
 * instantiated before Nest reads controller paths, so this works for `forRootAsync` too, whose
 * options are unknown when the module is declared (and so when its controllers are). Once the
 * app is up, `announce` says where it is served (see `RouteAnnouncer`).
 */
export function servedRouteProvider(route: ServedRoute): Provider {
  return {
    provide: route.provide,
    inject: [AQUEDUCT_OPTIONS, ApplicationConfig, ModulesContainer, HttpAdapterHost],
    useFactory: (
      options: ResolvedAqueductOptions,
      config: ApplicationConfig,
      modules: ModulesContainer,
      adapterHost: HttpAdapterHost,
    ) => {
      const path = route.path(options);
      if (path === null) {
        unmount(route.controller);
        return null;
      }
      Reflect.defineMetadata(PATH_METADATA, path, route.controller);
      return new RouteAnnouncer(route, options, config, modules, adapterHost);
    },
  };
}

/**
 * Leaves `controller` without any path, so that nothing answers there and nothing is logged.
 * Nest's RoutesResolver maps, and logs ("AqueductConsoleController {/}:"), each path of a
 * controller's path list: an empty list gives it neither a route nor a log line. The handlers
 * lose their paths too, for any other reader of the metadata (an OpenAPI generator).
 */
function unmount(controller: Type<unknown>): void {
  Reflect.defineMetadata(PATH_METADATA, [], controller);
  for (const name of Object.getOwnPropertyNames(controller.prototype)) {
    const handler = controller.prototype[name];
    if (typeof handler === 'function' && Reflect.hasMetadata(METHOD_METADATA, handler)) {
      Reflect.deleteMetadata(PATH_METADATA, handler);
    }
  }
}

/**
 * Announces, once at start-up, the paths a route is served at. Not earlier: the host's main.ts
 * sets the global prefix between `NestFactory.create()` (which builds the providers) and `init()`,
 * and the log line is where a reader copies the path from.
 */
class RouteAnnouncer implements OnApplicationBootstrap, ServedRouteHandle {
  constructor(
    private readonly route: ServedRoute,
    private readonly options: ResolvedAqueductOptions,
    private readonly config: ApplicationConfig,
    private readonly modules: ModulesContainer,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.adapterHost.httpAdapter) {
      return; // An application context without HTTP (a worker, the CLI) serves no route.
    }
    this.route.announce(this.paths(), this.options);
  }

  /**
   * The paths the route is served at, once the global prefix is set (from `init()` on). The
   * controllers are VERSION_NEUTRAL, so URI versioning adds no "/v1" to their paths (Nest's
   * RoutePathFactory maps VERSION_NEUTRAL to no version segment, and header or media-type
   * versioning never changes a path): these are the paths they are served at, also with
   * `enableVersioning({ type: URI, defaultVersion: '1' })` (see test/host-setup.e2e-spec.ts).
   */
  paths(): string[] {
    const { controller, handler } = this.route;
    return servedPaths(this.config, this.modules, controller, handler);
  }
}
