import type { EmailOptions } from '../options/email-options.interface';

/** Someone a mail goes to, with the names its template greets. */
export interface Recipient {
  address: string;
  userName: string;
  orgName: string;
}

/** Syntax check only: anything else is for the mail server to refuse. */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

/** Names operator mails greet with: they go to `alertTo`, not to a customer's user. */
const OPERATOR_NAMES = { userName: 'operator', orgName: 'operations' } as const;

/** Whether an address is worth offering to the mail server. */
export function isMailable(address: string): boolean {
  return ADDRESS.test(address);
}

/** The users of every provisioned org of an access transition, each address once (any case). */
export function customerRecipients(object: Record<string, any>): Recipient[] {
  const orgs: any[] = Array.isArray(object.provisioningOrgs) ? object.provisioningOrgs : [];
  const seen = new Set<string>();
  const recipients: Recipient[] = [];
  for (const org of orgs) {
    for (const user of Array.isArray(org?.users) ? org.users : []) {
      const address = String(user?.email ?? '').trim();
      if (address && !seen.has(address.toLowerCase())) {
        seen.add(address.toLowerCase());
        recipients.push({
          address,
          userName: String(user?.name ?? ''),
          orgName: String(org?.name ?? ''),
        });
      }
    }
  }
  return recipients;
}

/**
 * The recipients of a transition's audience: its users (`provisioningOrgs`), those not among its
 * previous ones (`previousOrgs`, present only when they differ: absent, no one joined), or those
 * who were.
 */
export function audienceOf(
  object: Record<string, any>,
  to: 'all' | 'joined' | 'stayed',
): Recipient[] {
  const all = customerRecipients(object);
  if (to === 'all') {
    return all;
  }
  const before = Array.isArray(object.previousOrgs)
    ? customerRecipients({ provisioningOrgs: object.previousOrgs })
    : all;
  const had = new Set(before.map((r) => r.address.toLowerCase()));
  return all.filter((r) => had.has(r.address.toLowerCase()) === (to === 'stayed'));
}

/** The operators of `alertTo` (one address or several). */
export function operatorRecipients(email: EmailOptions): Recipient[] {
  const list = Array.isArray(email.alertTo) ? email.alertTo : email.alertTo ? [email.alertTo] : [];
  return list.map((address) => ({ address, ...OPERATOR_NAMES }));
}
