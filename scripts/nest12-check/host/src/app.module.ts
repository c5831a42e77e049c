import { Module } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AqueductModule, aqueductMigrations } from 'nestjs-aqueduct';
import { HostProvisioning } from './host.listener.js';

/** A standard-webhooks secret for this check only. */
export const SECRET = 'whsec_bmVzdDEyLWNoZWNrLW9ubHktbm90LWEtcmVhbC1zZWNyZXQ=';

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'postgres',
      url: process.env.DATABASE_URL,
      autoLoadEntities: true,
      migrations: [...aqueductMigrations],
      migrationsRun: true,
    }),
    EventEmitterModule.forRoot(),
    AqueductModule.forRoot({
      secrets: [SECRET],
      verification: { scheme: 'standard-webhooks' },
    }),
  ],
  providers: [HostProvisioning],
})
export class AppModule {}
