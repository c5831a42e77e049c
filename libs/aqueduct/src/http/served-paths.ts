import { RequestMethod, type Type } from '@nestjs/common';
import {
  METHOD_METADATA,
  MODULE_PATH,
  PATH_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/constants';
import type { ApplicationConfig, ModulesContainer } from '@nestjs/core';
// Not re-exported by '@nestjs/core'; this path resolves in Nest 11 (no "exports" map) and Nest 12
// ("./*": "./*.js").
import { RoutePathFactory } from '@nestjs/core/router/route-path-factory';

/**
 * The paths at which Nest's router serves the route `handler` of `controller`, for log lines that
 * people copy (into Aqueduct's dashboard, a browser): the configured path alone is wrong behind
 * `app.setGlobalPrefix('api')`. They are built the way `RoutesResolver`/`RouterExplorer` build the
 * paths they register: by Nest's own `RoutePathFactory`, from the same metadata (the controller's
 * and the handler's path, a `RouterModule` path, the global prefix, whose `exclude` list it
 * matches with Nest's `isRouteExcluded` for the handler's request method, and URI versioning).
 *
 * The global prefix and versioning are set by the host's main.ts after the module's providers are
 * built and before `init()` registers the routes, so call this once the app is initialised
 * (`onApplicationBootstrap`), never from a provider's factory.
 */
export function servedPaths(
  config: ApplicationConfig,
  modules: ModulesContainer,
  controller: Type<unknown>,
  handler: string,
): string[] {
  const callback = (controller.prototype as Record<string, unknown>)[handler] as object;
  const requestMethod: RequestMethod =
    Reflect.getMetadata(METHOD_METADATA, callback) ?? RequestMethod.GET;
  const factory = new RoutePathFactory(config);
  const base = {
    modulePath: modulePathOf(modules, controller),
    globalPrefix: withLeadingSlash(config.getGlobalPrefix()),
    controllerVersion: Reflect.getMetadata(VERSION_METADATA, controller),
    methodVersion: Reflect.getMetadata(VERSION_METADATA, callback),
    versioningOptions: config.getVersioning(),
  };
  const paths = pathsOf(Reflect.getMetadata(PATH_METADATA, controller)).flatMap((ctrlPath) =>
    pathsOf(Reflect.getMetadata(PATH_METADATA, callback)).flatMap((methodPath) =>
      factory.create({ ...base, ctrlPath, methodPath }, requestMethod),
    ),
  );
  return [...new Set(paths)];
}

/** What a log line shows for `servedPaths`: one path, or several joined. */
export function describePaths(paths: string[]): string {
  return paths.length === 0 ? '(no route)' : paths.join(' and ');
}

/** Path metadata as Nest reads it: a string or a list, each with a leading slash. */
function pathsOf(metadata: unknown): string[] {
  const list: unknown[] = Array.isArray(metadata) ? metadata : [metadata];
  return list.filter((path) => typeof path === 'string').map(withLeadingSlash);
}

/** Nest's `addLeadingSlash`: `{/` opens an optional segment, which needs no slash before it. */
function withLeadingSlash(path: string): string {
  return path && !path.startsWith('/') && !path.startsWith('{/') ? `/${path}` : path;
}

/** The `RouterModule` path of the module declaring `controller`, read as `RoutesResolver` does. */
function modulePathOf(modules: ModulesContainer, controller: Type<unknown>): string | undefined {
  for (const module of modules.values()) {
    if (module.controllers.has(controller)) {
      return (
        Reflect.getMetadata(MODULE_PATH + modules.applicationId, module.metatype) ??
        Reflect.getMetadata(MODULE_PATH, module.metatype)
      );
    }
  }
  return undefined;
}
