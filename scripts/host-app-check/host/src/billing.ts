import { Injectable } from '@nestjs/common';
import { OnAqueductEvent } from 'nestjs-aqueduct';
import type { AccessEvent, AqueductListenerContext, ProvisioningEvent } from 'nestjs-aqueduct';

export interface BillingRun {
  listener: 'provisioningStarted' | 'accessStarted' | 'accessExpired';
  customerId: string;
  idempotencyKey: string;
}

/** The app's own listeners: they record each run. */
@Injectable()
export class Billing {
  readonly runs: BillingRun[] = [];

  @OnAqueductEvent('provisioning.start')
  provisioningStarted(event: ProvisioningEvent, { idempotencyKey }: AqueductListenerContext) {
    this.runs.push({
      listener: 'provisioningStarted',
      customerId: event.object.customerId,
      idempotencyKey,
    });
  }

  @OnAqueductEvent('access.started')
  accessStarted(event: AccessEvent, { idempotencyKey }: AqueductListenerContext) {
    this.runs.push({
      listener: 'accessStarted',
      customerId: event.object.customerId,
      idempotencyKey,
    });
  }

  @OnAqueductEvent('access.expired')
  accessExpired(event: AccessEvent, { idempotencyKey }: AqueductListenerContext) {
    this.runs.push({
      listener: 'accessExpired',
      customerId: event.object.customerId,
      idempotencyKey,
    });
  }
}
