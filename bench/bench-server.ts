/**
 * The server under test, run in a child process by support/child-server.ts. An ordinary Nest 11 app
 * as a host would write it, plus `POST /bare`: the same HTTP stack and JSON body parser with no
 * module work, so the module's cost can be read as a ratio of the two.
 *
 * Env: BENCH_DATABASE_URL (required), BENCH_AQUEDUCT_OPTIONS (JSON AqueductModuleOptions, required),
 * BENCH_NOOP_LISTENERS=1 to register three no-op provisioning.start listeners (off by default, so the
 * ingest benchmark measures receiving alone: without listeners no delivery is created or run),
 * BENCH_NAIVE_SECRET to serve `POST /naive` (support/naive-receiver.ts) checking with that secret:
 * the app then bootstraps with `rawBody: true`, as that receiver needs; BENCH_ADAPTER=1 to give the
 * module support/bench-adapter.ts as its provisioning adapter (one upsert per call).
 * Reports `{ type: 'ready', port }` over IPC once listening, and answers `{ type: 'stats' }` and
 * `{ type: 'prune', … }` (support/child-server.ts).
 */
import 'reflect-metadata';
import {
  Body,
  type CanActivate,
  Controller,
  type DynamicModule,
  Get,
  HttpCode,
  HttpStatus,
  type INestApplication,
  Injectable,
  Module,
  Param,
  Post,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  AqueductEventCommands,
  AqueductModule,
  type AqueductModuleOptions,
  OnAqueductEvent,
  RequiresEntitlement,
} from 'nestjs-aqueduct';
import { benchTypeOrm } from './support/aqueduct-app';
import { BenchProvisioningAdapter } from './support/bench-adapter';
import { NaiveReceiverModule } from './support/naive-receiver';
import { countRoundTrips, roundTrips } from './support/round-trips';
import {
  processStats,
  type ServerPruneRequest,
  type ServerPrunedMessage,
  type ServerStatsRequest,
  type ServerReadyMessage,
} from './support/child-server';

@Controller()
class BareController {
  /** Takes the parsed body so the JSON parser's work is part of the baseline, then does nothing. */
  @Post('bare')
  @HttpCode(HttpStatus.OK)
  bare(@Body() _body: unknown): { ok: true } {
    return { ok: true };
  }
}

@Injectable()
class AllowAllGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

/**
 * A paid route and its twin without the guard (BENCH_ACCESS_ROUTES=1): the same handler, so the
 * difference between the two is the access check alone.
 */
@Controller('customers/:customerId')
class AccessRoutesController {
  @Get('reports')
  @RequiresEntitlement('prod_pro')
  reports(@Param('customerId') customerId: string) {
    return { customerId, reports: [] };
  }

  @Get('open')
  open(@Param('customerId') customerId: string) {
    return { customerId, reports: [] };
  }

  /** Behind a guard that lets everything through: what any Nest guard costs. */
  @Get('guarded-open')
  @UseGuards(AllowAllGuard)
  guardedOpen(@Param('customerId') customerId: string) {
    return { customerId, reports: [] };
  }
}

/** Listeners that do nothing: what remains is the module's cost of running a delivery. */
@Injectable()
class NoopListeners {
  @OnAqueductEvent('provisioning.start', { name: 'noop1' })
  noop1(): void {}

  @OnAqueductEvent('provisioning.start', { name: 'noop2' })
  noop2(): void {}

  @OnAqueductEvent('provisioning.start', { name: 'noop3' })
  noop3(): void {}
}

@Module({})
class BenchServerModule {
  static forRoot(
    databaseUrl: string,
    aqueduct: AqueductModuleOptions,
    noopListeners: boolean,
    naiveSecret: string | undefined,
  ): DynamicModule {
    return {
      module: BenchServerModule,
      imports: [
        // Same settings as the example app (src/app.module.ts), default pool size included.
        benchTypeOrm(databaseUrl),
        AqueductModule.forRoot(aqueduct),
        ...(naiveSecret ? [NaiveReceiverModule.forRoot(databaseUrl, naiveSecret)] : []),
      ],
      controllers:
        process.env.BENCH_ACCESS_ROUTES === '1'
          ? [BareController, AccessRoutesController]
          : [BareController],
      providers: noopListeners ? [NoopListeners] : [],
    };
  }
}

/**
 * The prune the retention job runs, in this process: on an instance serving the webhook route, as a
 * host's retention job does (and never in the load generator's event loop, whose timings it would
 * distort).
 */
async function prune(app: INestApplication, request: ServerPruneRequest): Promise<void> {
  const started = Date.now();
  let answer: ServerPrunedMessage;
  try {
    const result = await app.get(AqueductEventCommands).prune({
      olderThanMs: request.olderThanMs,
      batchSize: request.batchSize,
      pauseRatio: request.pauseRatio,
    });
    answer = { type: 'pruned', result, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    answer = { type: 'pruned', error: String(error), seconds: (Date.now() - started) / 1000 };
  }
  process.send?.(answer);
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

async function main(): Promise<void> {
  countRoundTrips();
  const databaseUrl = requiredEnv('BENCH_DATABASE_URL');
  const aqueduct = JSON.parse(requiredEnv('BENCH_AQUEDUCT_OPTIONS')) as AqueductModuleOptions;
  if (process.env.BENCH_ADAPTER === '1') {
    aqueduct.provisioningAdapter = BenchProvisioningAdapter;
  }
  // Errors only: a log line per request would measure the console, not the module.
  const noopListeners = process.env.BENCH_NOOP_LISTENERS === '1';
  const naiveSecret = process.env.BENCH_NAIVE_SECRET || undefined;
  const app = await NestFactory.create(
    BenchServerModule.forRoot(databaseUrl, aqueduct, noopListeners, naiveSecret),
    { logger: ['error'], rawBody: naiveSecret !== undefined },
  );
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

  // Memory and CPU time of the server alone: only this process can read them.
  process.on('message', (message: Partial<ServerStatsRequest | ServerPruneRequest>) => {
    if (message?.type === 'prune') {
      void prune(app, message as ServerPruneRequest);
    }
    if (message?.type === 'stats') {
      process.send?.(processStats({ roundTrips: roundTrips() }));
    }
  });

  const ready: ServerReadyMessage = { type: 'ready', port };
  process.send?.(ready);
}

main().catch((error: unknown) => {
  console.error('bench server failed to start:', error);
  process.exit(1);
});
