import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AqueductModule, aqueductMigrations } from 'nestjs-aqueduct';
import { aqueductOptionsFromEnv, refuseDevelopmentSecretInProduction } from './app.config';
import { ConsolePasswordGuard } from './console/console-password.guard';
import { CustomersController } from './customers/customers.controller';
import { HealthModule } from './health/health.module';
import { MetricsController } from './metrics/metrics.controller';

/** An ordinary Nest app that bills through Aqueduct: one import gives it the webhook endpoint. */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true }),
    TypeOrmModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => {
        // Checked here too, so that a refused production start opens no database connection and
        // runs no migration (the Aqueduct options below are built while the pool opens).
        refuseDevelopmentSecretInProduction(config);
        return {
          type: 'postgres',
          url: config.getOrThrow<string>('DATABASE_URL'),
          autoLoadEntities: true,
          migrations: [...aqueductMigrations],
          migrationsRun: true,
          // Fail a request in seconds (the endpoint answers 503) rather than hang when Postgres is away.
          extra: { connectionTimeoutMillis: 3000, statement_timeout: 10000 },
        };
      },
    }),
    AqueductModule.forRootAsync({
      inject: [ConfigService],
      useFactory: aqueductOptionsFromEnv,
    }),
    HealthModule,
  ],
  controllers: [CustomersController, MetricsController],
  // Registered here so the console finds it with its ConfigService dependency.
  providers: [ConsolePasswordGuard],
})
export class AppModule {}
