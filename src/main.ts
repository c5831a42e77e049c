import { type INestApplication, Logger, RequestMethod, VERSION_NEUTRAL } from '@nestjs/common';
import { ApplicationConfig, NestFactory } from '@nestjs/core';
// Nest's own path builder (what its router registers routes with); not re-exported by '@nestjs/core'.
import { RoutePathFactory } from '@nestjs/core/router/route-path-factory';
import { AQUEDUCT_MODULE_OPTIONS, type AqueductModuleOptions } from 'nestjs-aqueduct';
import { AppModule } from './app.module';
import { resolveDatabaseUrl } from './database/example-database';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Example');
  const database = await resolveDatabaseUrl();
  process.env.DATABASE_URL = database.url;

  const app = await NestFactory.create(AppModule);
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);

  // The paths as the app serves them (a global prefix set above would apply), from the options the
  // module was given, not from the environment again.
  const options = app.get<AqueductModuleOptions>(AQUEDUCT_MODULE_OPTIONS);
  const url = (path: string, method: RequestMethod) =>
    `http://localhost:${port}${servedPath(app, path, method)}`;
  logger.log(
    `Aqueduct webhook endpoint: POST ${url(options.path ?? 'webhooks/aqueduct', RequestMethod.POST)}`,
  );
  logger.log(`Database: ${database.description}`);
  if (options.console) {
    const consoleUrl = url(options.console.path ?? 'aqueduct/console', RequestMethod.GET);
    logger.log(
      `Aqueduct console${options.console.guard ? '' : ' (development only)'}: ${consoleUrl}`,
    );
  }
  if (database.stop) {
    const stop = database.stop;
    process.once('beforeExit', () => void stop());
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(
        signal,
        () =>
          void app
            .close()
            .then(stop)
            .then(() => process.exit(0)),
      );
    }
  }
}

/**
 * Where the app serves a route of the Aqueduct module at `path`: built by Nest's RoutePathFactory,
 * as Nest's router builds it, so with the global prefix unless `setGlobalPrefix`'s `exclude` names
 * it for `method`. The module's controllers are VERSION_NEUTRAL: URI versioning adds nothing.
 */
function servedPath(app: INestApplication, path: string, method: RequestMethod): string {
  const config = app.get(ApplicationConfig);
  const [served] = new RoutePathFactory(config).create(
    {
      ctrlPath: `/${path.trim().replace(/^\/+|\/+$/g, '')}`,
      globalPrefix: config.getGlobalPrefix(),
      controllerVersion: VERSION_NEUTRAL,
      versioningOptions: config.getVersioning(),
    },
    method,
  );
  return served;
}

void bootstrap();
