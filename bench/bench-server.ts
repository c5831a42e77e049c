/**
 * The server under test, run in a child process by support/child-server.ts. An ordinary Nest 11 app
 * as a host would write it, plus `POST /bare`: the same HTTP stack and JSON body parser with no
 * module work, so the module's cost can be read as a ratio of the two.
 *
 * Env: BENCH_DATABASE_URL (required), BENCH_AQUEDUCT_OPTIONS (JSON AqueductModuleOptions, required).
 * Reports `{ type: 'ready', port }` over IPC once listening.
 */
import 'reflect-metadata';
import {
  Body,
  Controller,
  type DynamicModule,
  HttpCode,
  HttpStatus,
  Module,
  Post,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AqueductModule, type AqueductModuleOptions, aqueductMigrations } from 'nestjs-aqueduct';
import type { ServerReadyMessage } from './support/child-server';

@Controller()
class BareController {
  /** Takes the parsed body so the JSON parser's work is part of the baseline, then does nothing. */
  @Post('bare')
  @HttpCode(HttpStatus.OK)
  bare(@Body() _body: unknown): { ok: true } {
    return { ok: true };
  }
}

@Module({})
class BenchServerModule {
  static forRoot(databaseUrl: string, aqueduct: AqueductModuleOptions): DynamicModule {
    return {
      module: BenchServerModule,
      imports: [
        // Same settings as the example app (src/app.module.ts), default pool size included.
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: databaseUrl,
          autoLoadEntities: true,
          migrations: [...aqueductMigrations],
          migrationsRun: true,
        }),
        AqueductModule.forRoot(aqueduct),
      ],
      controllers: [BareController],
    };
  }
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

async function main(): Promise<void> {
  const databaseUrl = requiredEnv('BENCH_DATABASE_URL');
  const aqueduct = JSON.parse(requiredEnv('BENCH_AQUEDUCT_OPTIONS')) as AqueductModuleOptions;
  // Errors only: a log line per request would measure the console, not the module.
  const app = await NestFactory.create(BenchServerModule.forRoot(databaseUrl, aqueduct), {
    logger: ['error'],
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };

  // Ctrl-C reaches this process directly, then the parent sends SIGTERM: close the app only once.
  let closing = false;
  const shutdown = () => {
    if (!closing) {
      closing = true;
      void app.close().finally(() => process.exit(0));
    }
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // The parent died without stopping us: do not linger holding a port and Postgres connections.
  process.once('disconnect', shutdown);

  const ready: ServerReadyMessage = { type: 'ready', port };
  process.send?.(ready);
}

main().catch((error: unknown) => {
  console.error('bench server failed to start:', error);
  process.exit(1);
});
