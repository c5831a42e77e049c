/**
 * A host app in a process of its own, for tests that kill it. Configured by environment:
 * DATABASE_URL, SECRET, SLOW_MS (time the listener takes), LEASE_MS. Prints `READY <port>`.
 * Its listener records a marker when it starts and its effect (keyed by the idempotency key) when
 * it finishes, in tables the test creates.
 * Optional, for the fault suite: PORT (fixed, so a restart keeps the sender's URL), VERIFICATION
 * (`standard-webhooks`: dedup on the sender's delivery id), SMTP_PORT (turns email on),
 * ALERT_EMAIL (with SMTP_PORT: `email.alertTo`, operator alerts are mailed there),
 * PG_CONNECT_TIMEOUT_MS and STORE_TIMEOUT_MS (how fast an unreachable database means 503),
 * RETRY_BASE_MS / RETRY_MAX_MS (delivery backoff).
 * `GET /health` answers `AqueductHealthIndicator.isHealthy()` (state healthy, degraded or down).
 * `GET /customers/:customerId/reports` is a paid route (`@RequiresEntitlement('prod_pro')`);
 * ACCESS_OPTIONS (JSON) sets the module's `access` options (cache, fallback).
 */
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AqueductHealthIndicator,
  AqueductModule,
  type AqueductListenerContext,
  OnAqueductEvent,
  RequiresEntitlement,
  aqueductMigrations,
} from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';

const env = (name: string, fallback?: string) => process.env[name] ?? fallback ?? '';
const optionalNumber = (name: string) =>
  process.env[name] ? Number(process.env[name]) : undefined;

@Injectable()
class EffectListener {
  constructor(private readonly dataSource: DataSource) {}

  @OnAqueductEvent('*', { name: 'effect' })
  async apply(_event: unknown, context: AqueductListenerContext) {
    await this.dataSource.query(
      `INSERT INTO test_markers (key, pid, first_run) VALUES ($1, $2, $3)`,
      [context.idempotencyKey, process.pid, context.firstRun],
    );
    await new Promise((resolve) => setTimeout(resolve, Number(env('SLOW_MS', '0'))));
    await this.dataSource.query(
      `INSERT INTO test_effects (key, pid) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
      [context.idempotencyKey, process.pid],
    );
  }
}

@Controller('health')
class HealthController {
  constructor(private readonly health: AqueductHealthIndicator) {}

  @Get()
  check() {
    return this.health.isHealthy();
  }
}

@Controller('customers/:customerId')
class PaidController {
  @Get('reports')
  @RequiresEntitlement('prod_pro')
  reports(@Param('customerId') customerId: string) {
    return { customerId };
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: env('DATABASE_URL'),
      autoLoadEntities: true,
      migrations: [...aqueductMigrations],
      migrationsRun: true,
      extra: { connectionTimeoutMillis: optionalNumber('PG_CONNECT_TIMEOUT_MS') },
    }),
    AqueductModule.forRoot({
      secrets: [env('SECRET')],
      verification:
        env('VERIFICATION') === 'standard-webhooks'
          ? { scheme: 'standard-webhooks' }
          : { scheme: 'shared-secret' },
      storeTimeoutMs: optionalNumber('STORE_TIMEOUT_MS'),
      access: process.env.ACCESS_OPTIONS ? JSON.parse(env('ACCESS_OPTIONS')) : undefined,
      dispatch: {
        leaseMs: Number(env('LEASE_MS', '60000')),
        pollIntervalMs: 100,
        retryBaseDelayMs: optionalNumber('RETRY_BASE_MS'),
        retryMaxDelayMs: optionalNumber('RETRY_MAX_MS'),
      },
      email: process.env.SMTP_PORT
        ? {
            transport: {
              host: '127.0.0.1',
              port: Number(env('SMTP_PORT')),
              secure: false,
              ignoreTLS: true,
            },
            from: 'billing@host.test',
            alertTo: process.env.ALERT_EMAIL || undefined,
          }
        : undefined,
    }),
  ],
  controllers: [HealthController, PaidController],
  providers: [EffectListener],
})
class ChildAppModule {}

async function main() {
  const app = await NestFactory.create(ChildAppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(Number(env('PORT', '0')), '127.0.0.1');
  const { port } = app.getHttpServer().address();
  process.stdout.write(`READY ${port}\n`);
}

void main();
