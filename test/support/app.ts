import type {
  DynamicModule,
  INestApplication,
  LoggerService,
  ModuleMetadata,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AQUEDUCT_CLOCK,
  type AqueductClock,
  AqueductModule,
  type AqueductModuleOptions,
  aqueductMigrations,
} from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';

export interface TestAppOptions {
  databaseUrl: string;
  /** Options for `AqueductModule.forRoot`; ignored when `aqueductModule` is given. */
  aqueduct?: AqueductModuleOptions;
  /** A ready module definition, e.g. from `forRootAsync`. */
  aqueductModule?: DynamicModule;
  imports?: ModuleMetadata['imports'];
  controllers?: ModuleMetadata['controllers'];
  /** Runs before `init()`, like a host's `main.ts`. */
  configure?: (app: INestApplication) => void;
  /** Replaces the module's clock (ledger, access checks, expiry job). */
  clock?: AqueductClock;
  /** Do not connect to the database (for start-up failures that must not leak a pool). */
  lazyDatabase?: boolean;
  /** Extra pg pool settings. */
  extra?: Record<string, unknown>;
  /** The app's logger (e.g. a `LogCapture`); none by default, Nest's with TEST_LOGS set. */
  logger?: LoggerService;
}

/** Boots the module the way a host app does: TypeORM on the real database, migrations on start. */
export async function createTestApp(options: TestAppOptions): Promise<INestApplication> {
  const builder = Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url: options.databaseUrl,
        autoLoadEntities: true,
        migrations: [...aqueductMigrations],
        migrationsRun: true,
        manualInitialization: options.lazyDatabase,
        extra: { max: 20, ...options.extra },
      }),
      options.aqueductModule ?? AqueductModule.forRoot(options.aqueduct ?? {}),
      ...(options.imports ?? []),
    ],
    controllers: options.controllers ?? [],
  });
  if (options.clock) {
    builder.overrideProvider(AQUEDUCT_CLOCK).useValue(options.clock);
  }
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({
    logger: options.logger ?? (process.env.TEST_LOGS ? undefined : false),
  });
  options.configure?.(app);
  try {
    await app.init();
  } catch (error) {
    // A host's process exits here; a test goes on, so what did start (the pool, timers) stops.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

/** Rows of the inbox, oldest first. */
export async function storedEvents(app: INestApplication): Promise<
  {
    id: string;
    type: string;
    status: string;
    payload: any;
    errors: string[] | null;
    dedup_key: string;
    headers: Record<string, string>;
    raw_body: Buffer | null;
    warnings: string[] | null;
  }[]
> {
  return app.get(DataSource).query(`SELECT * FROM aqueduct_events ORDER BY received_at, id`);
}
