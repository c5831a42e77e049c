/**
 * A host app in a process of its own, for tests that kill it. Configured by environment:
 * DATABASE_URL, SECRET, SLOW_MS (time the listener takes), LEASE_MS. Prints `READY <port>`.
 * Its listener records a marker when it starts and its effect (keyed by the idempotency key) when
 * it finishes, in tables the test creates.
 */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AqueductModule,
  type AqueductListenerContext,
  OnAqueductEvent,
  aqueductMigrations,
} from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';

const env = (name: string, fallback?: string) => process.env[name] ?? fallback ?? '';

@Injectable()
class EffectListener {
  constructor(private readonly dataSource: DataSource) {}

  @OnAqueductEvent('*', { name: 'effect' })
  async apply(_event: unknown, context: AqueductListenerContext) {
    await this.dataSource.query(`INSERT INTO test_markers (key, pid) VALUES ($1, $2)`, [
      context.idempotencyKey,
      process.pid,
    ]);
    await new Promise((resolve) => setTimeout(resolve, Number(env('SLOW_MS', '0'))));
    await this.dataSource.query(
      `INSERT INTO test_effects (key, pid) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`,
      [context.idempotencyKey, process.pid],
    );
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
    }),
    AqueductModule.forRoot({
      secrets: [env('SECRET')],
      dispatch: { leaseMs: Number(env('LEASE_MS', '60000')), pollIntervalMs: 100 },
    }),
  ],
  providers: [EffectListener],
})
class ChildAppModule {}

async function main() {
  const app = await NestFactory.create(ChildAppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  process.stdout.write(`READY ${port}\n`);
}

void main();
