import { type DynamicModule, type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AqueductModule, aqueductMigrations } from 'nestjs-aqueduct';
import type { BenchContext } from './benchmark';
import { once } from './cleanup';

/**
 * TypeORM as the example app (src/app.module.ts) and a host set it up, default pool size included:
 * the library's entities and migrations, run at boot, so the database gets the real schema and
 * indexes. Used by the server under test (bench-server.ts) and the in-process benchmarks alike.
 */
export function benchTypeOrm(databaseUrl: string): DynamicModule {
  return TypeOrmModule.forRoot({
    type: 'postgres',
    url: databaseUrl,
    autoLoadEntities: true,
    migrations: [...aqueductMigrations],
    migrationsRun: true,
  });
}

/**
 * TypeORM and AqueductModule in the benchmark's own process, as a host has them, for benchmarks that
 * call the library's services by hand: nothing is dispatched or swept on its own (dispatch and
 * expiry off); everything else keeps its defaults (the access cache, `access.settleMs` 4500000,
 * `access.requirePayment` false).
 */
@Module({})
class InProcessBenchModule {
  static forRoot(databaseUrl: string): DynamicModule {
    return {
      module: InProcessBenchModule,
      imports: [
        benchTypeOrm(databaseUrl),
        AqueductModule.forRoot({
          secrets: ['bench'],
          dispatch: { enabled: false },
          expiry: { enabled: false },
        }),
      ],
    };
  }
}

export interface InProcessApp {
  app: INestApplicationContext;
  /** Closes the application context; only the first call does anything. */
  close(): Promise<void>;
}

/**
 * Boots an application context of InProcessBenchModule on the benchmark's database (which runs the
 * migrations) and registers its closing, as `label`, with the run's cleanup (Ctrl-C included).
 * Logs errors and warnings only: the library's info lines (e.g. one per sweep that expired
 * something) would mix with the report.
 */
export async function startInProcessApp(
  context: BenchContext,
  label: string,
): Promise<InProcessApp> {
  const app = await NestFactory.createApplicationContext(
    InProcessBenchModule.forRoot(context.databaseUrl),
    { logger: ['error', 'warn'] },
  );
  const close = once(() => app.close());
  context.cleanup.defer(label, close);
  return { app, close };
}
