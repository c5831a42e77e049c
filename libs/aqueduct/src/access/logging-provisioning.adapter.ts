import { Logger } from '@nestjs/common';
import type {
  ProvisioningAdapter,
  ProvisioningGrant,
} from '../options/provisioning-adapter.interface';
import { printable } from '../utils/printable';

/**
 * The default adapter: it only logs (counts, ids, never emails), so an app can start receiving
 * before it wires its user system. Replace it with `provisioningAdapter` in the options.
 */
export class LoggingProvisioningAdapter implements ProvisioningAdapter {
  private readonly logger = new Logger('AqueductProvisioning');

  provision(grant: ProvisioningGrant): void {
    this.logger.log(`provision ${describe(grant)} (no ProvisioningAdapter configured)`);
  }

  deprovision(grant: ProvisioningGrant): void {
    this.logger.log(`deprovision ${describe(grant)} (no ProvisioningAdapter configured)`);
  }

  update(grant: ProvisioningGrant): void {
    this.logger.log(`update ${describe(grant)} (no ProvisioningAdapter configured)`);
  }
}

function describe(grant: ProvisioningGrant): string {
  const users = grant.orgs.reduce((sum, org) => sum + org.users.length, 0);
  const until = grant.accessUntil ? `, until ${grant.accessUntil.toISOString()}` : '';
  return printable(
    `${grant.customerId}/${grant.productId} (${grant.reason}): ${grant.orgs.length} org(s), ${users} user(s)${until}`,
  );
}
