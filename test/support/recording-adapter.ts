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
  /** The users the adapter held for the customer's other products, by product. */
  otherProducts: Record<string, string[]>;
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
      otherProducts: Object.fromEntries(grant.otherProducts.map((p) => [p.productId, p.emails])),
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

/**
 * The accounts of a user system with one account per person, after the customer's calls in order:
 * provisioned users enabled; deprovisioned ones disabled unless another product still holds them.
 */
export function personAccounts(customerId: string): Record<string, boolean> {
  const enabled: Record<string, boolean> = {};
  for (const call of adapterCalls.filter((c) => c.customerId === customerId)) {
    const kept = new Set(Object.values(call.otherProducts).flat());
    for (const email of call.emails.map((e) => e.toLowerCase())) {
      if (call.action !== 'deprovision') {
        enabled[email] = true;
      } else if (!kept.has(email)) {
        enabled[email] = false;
      }
    }
  }
  return enabled;
}
