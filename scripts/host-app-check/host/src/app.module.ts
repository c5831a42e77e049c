import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AqueductModule, aqueductMigrations } from 'nestjs-aqueduct';
import { Accounts } from './accounts';
import { Billing } from './billing';
import { Ticker } from './ticker';

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: process.env.DATABASE_URL,
      autoLoadEntities: true,
      migrations: [...aqueductMigrations],
      migrationsRun: true,
    }),
    // The host's own scheduler, for its own crons.
    ScheduleModule.forRoot(),
    AqueductModule.forRoot({
      secrets: [process.env.AQUEDUCT_WEBHOOK_SECRET!],
      verification: { scheme: 'shared-secret' },
      path: 'webhooks/aqueduct',
      provisioningAdapter: Accounts,
    }),
  ],
  providers: [Accounts, Billing, Ticker],
})
export class AppModule {}
