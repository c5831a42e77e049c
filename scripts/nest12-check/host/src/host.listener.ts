import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  AqueductEventsService,
  OnAqueductEvent,
  type AqueductListenerContext,
  type ProvisioningEvent,
} from 'nestjs-aqueduct';

/** The host's own listener: records each run in a table of its own. */
@Injectable()
export class HostProvisioning implements OnModuleInit {
  // Injected by class: DataSource from the host's typeorm, the events service from the library
  // (CommonJS). A second copy of either module would make Nest's dependency resolution fail here.
  constructor(
    private readonly dataSource: DataSource,
    private readonly events: AqueductEventsService,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.dataSource.query(
      `CREATE TABLE IF NOT EXISTS nest12_check_runs (
         event_id uuid PRIMARY KEY,
         idempotency_key text NOT NULL,
         customer_id text NOT NULL,
         event_status text NOT NULL,
         ran_at timestamptz NOT NULL DEFAULT now())`,
    );
  }

  @OnAqueductEvent('provisioning.start')
  async grant(
    event: ProvisioningEvent,
    { idempotencyKey }: AqueductListenerContext,
  ): Promise<void> {
    const { status } = await this.events.getEvent(event.id);
    await this.dataSource.query(
      `INSERT INTO nest12_check_runs (event_id, idempotency_key, customer_id, event_status)
       VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING`,
      [event.id, idempotencyKey, event.object.customerId, status],
    );
    console.log(`NEST12_CHECK listener ran for ${idempotencyKey}`);
  }
}
