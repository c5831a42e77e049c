/**
 * The host's user system in the subscription tests: every adapter call recorded, in order, in
 * `adapterCalls` (one list per test file: Jest gives each file its own modules).
 */
import { Injectable } from '@nestjs/common';
import type { ProvisioningAdapter, ProvisioningGrant } from 'nestjs-aqueduct';

export interface AdapterCall {
  action: 'provision' | 'deprovision' | 'update';
  customerId: string;
  productId: string;
  emails: string[];
  reason: string;
  idempotencyKey: string;
}

export const adapterCalls: AdapterCall[] = [];

@Injectable()
export class RecordingAdapter implements ProvisioningAdapter {
  private record(action: AdapterCall['action'], grant: ProvisioningGrant) {
    adapterCalls.push({
      action,
      customerId: grant.customerId,
      productId: grant.productId,
      emails: grant.orgs.flatMap((org) => org.users.map((user) => String(user.email))),
      reason: grant.reason,
      idempotencyKey: grant.idempotencyKey,
    });
  }
  provision(grant: ProvisioningGrant) {
    this.record('provision', grant);
  }
  deprovision(grant: ProvisioningGrant) {
    this.record('deprovision', grant);
  }
  update(grant: ProvisioningGrant) {
    this.record('update', grant);
  }
}

/** The module a test app imports to provide it. */
export const recordingAdapterModule = () => ({
  module: class RecordingAdapterModule {},
  providers: [RecordingAdapter],
});

/** The actions of the calls for one customer and product, in order. */
export const adapterActions = (customerId: string, productId = 'prod_pro') =>
  adapterCalls
    .filter((c) => c.customerId === customerId && c.productId === productId)
    .map((c) => c.action);
