import { type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AqueductModule } from '../aqueduct.module';
import type { AqueductModuleOptions } from '../options/aqueduct-options.interface';
import { aqueductMigrations } from '../storage/aqueduct-storage';
import { CliError, ExitCode } from './cli-output';

/**
 * The module against a database, without HTTP, dispatching or the jobs: enough for the
 * events service. Replays are picked up by the running app's dispatchers (NOTIFY). `access`:
 * the host's access options that reading access depends on (`settleMs`: the renewal window).
 */
export async function withDatabase<T>(
  databaseUrl: string | undefined,
  work: (app: INestApplicationContext) => Promise<T>,
  access?: AqueductModuleOptions['access'],
): Promise<T> {
  if (!databaseUrl) {
    throw new CliError('--database-url is required (or set DATABASE_URL)', ExitCode.Usage);
  }

  @Module({
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url: databaseUrl,
        autoLoadEntities: true,
        migrations: [...aqueductMigrations],
        retryAttempts: 0,
        extra: { max: 2, connectionTimeoutMillis: 5000 },
      }),
      AqueductModule.forRoot({
        // Not used: this context receives nothing; the option is required by the module.
        secrets: ['cli-receives-nothing'],
        dispatch: { enabled: false },
        expiry: { enabled: false },
        retention: { enabled: false },
        ...(access ? { access } : {}),
      }),
    ],
  })
  class CliDatabaseModule {}

  let app: INestApplicationContext;
  try {
    app = await NestFactory.createApplicationContext(CliDatabaseModule, {
      logger: false,
      abortOnError: false,
    });
  } catch (error) {
    throw new CliError(
      `cannot use the database: ${(error as Error).message}`,
      ExitCode.Unreachable,
    );
  }
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}
