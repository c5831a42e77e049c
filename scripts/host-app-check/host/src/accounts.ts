import { Injectable } from '@nestjs/common';
import type { ProvisioningAdapter, ProvisioningGrant, ProvisioningOrgDto } from 'nestjs-aqueduct';

export interface AccountsCall {
  call: 'provision' | 'update' | 'deprovision';
  customerId: string;
  productId: string;
  users: (string | null)[];
  reason: string;
  idempotencyKey: string;
}

/** The app's user system, in memory: it records what the module asks of it. */
@Injectable()
export class Accounts implements ProvisioningAdapter {
  readonly calls: AccountsCall[] = [];

  provision(grant: ProvisioningGrant) {
    this.record('provision', grant);
  }

  update(grant: ProvisioningGrant, _previousOrgs: ProvisioningOrgDto[]) {
    this.record('update', grant);
  }

  deprovision(grant: ProvisioningGrant) {
    this.record('deprovision', grant);
  }

  private record(call: AccountsCall['call'], grant: ProvisioningGrant) {
    this.calls.push({
      call,
      customerId: grant.customerId,
      productId: grant.productId,
      users: grant.orgs.flatMap((org) => org.users.map((user) => user.email)),
      reason: grant.reason,
      idempotencyKey: grant.idempotencyKey,
    });
  }
}
