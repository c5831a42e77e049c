import type { Entitlement } from '../access/aqueduct-access.interfaces';
import { customerRecipients } from './email.recipients';

/**
 * How close to the old product's paid end the new one's access must begin for the change to be a
 * switch (an upgrade, a downgrade): Aqueduct ends the old provisioning early and starts the new one
 * at that moment; a day covers a new period given as a date.
 */
export const SWITCH_WINDOW_MS = 24 * 60 * 60_000;

/**
 * The users (lowercased addresses) whose loss of `productId` is a switch: at `now` they hold
 * another product of the customer whose access began within `SWITCH_WINDOW_MS` of the lost
 * product's last paid end before `lostAt`. Telling them "your access has ended" or "renew before
 * then" would announce a loss to a customer who just upgraded; the new product's welcome tells
 * them what they have. A user the new product does not carry lost access, and is told so.
 */
export function switchedUsers(
  entitlements: Entitlement[],
  productId: string,
  lostAt: Date,
  now: Date,
): Set<string> {
  const lost = entitlements.find((entitlement) => entitlement.productId === productId);
  const paidEnds = (lost?.timeline ?? [])
    .filter((segment) => segment.status === 'active' && segment.until <= lostAt)
    .map((segment) => segment.until.getTime());
  if (paidEnds.length === 0) {
    return new Set();
  }
  const paidEnd = Math.max(...paidEnds);
  const replacing = entitlements.filter(
    (entitlement) =>
      entitlement.productId !== productId &&
      entitlement.hasAccess &&
      entitlement.since !== null &&
      entitlement.since.getTime() <= now.getTime() &&
      Math.abs(entitlement.since.getTime() - paidEnd) <= SWITCH_WINDOW_MS,
  );
  return new Set(
    replacing.flatMap((entitlement) =>
      customerRecipients({ provisioningOrgs: entitlement.orgs }).map((recipient) =>
        recipient.address.toLowerCase(),
      ),
    ),
  );
}
