import { renewalWindows } from '../../access/access-timeline';
import type { Entitlement, Provisioning } from '../../access/aqueduct-access.service';
import { renewalKnown } from '../../access/renewal-ahead';
import type { RenewalWindow } from '../../access/renewal-window';
import { printable, table } from '../cli-output';
import { indent, iso, pairs, yesNo } from './text.format';

/** `access show` for people: each product's entitlement and timeline, then the provisionings. */
export function showText(
  customerId: string,
  at: Date,
  entitlements: Entitlement[],
  provisionings: Provisioning[],
  window: RenewalWindow,
): string {
  return [
    `customer ${printable(customerId)} at ${iso(at)}`,
    ...entitlements.flatMap((e) => entitlementLines(e, provisionings, at, window)),
    '',
    'provisionings',
    indent(provisioningsTable(provisionings), 2),
  ].join('\n');
}

/** One product: its status, the ledger's dates and flags, its orgs, and its timeline. */
function entitlementLines(
  e: Entitlement,
  provisionings: Provisioning[],
  at: Date,
  window: RenewalWindow,
): string[] {
  const orgs = e.orgs ?? [];
  const users = orgs.reduce((n, org) => n + (org.users?.length ?? 0), 0);
  const orgNames = orgs.map((org) => printable(org.name)).join(', ');
  return [
    '',
    `${printable(e.productId)}  ${e.status}  access ${yesNo(e.hasAccess)}`,
    pairs([
      ['since', iso(e.since)],
      ['paid until', iso(e.paidUntil)],
      ['access until', iso(e.accessUntil)],
      ['next change', iso(e.changesAt)],
      ['renewal ahead', yesNo(renewalKnown(e, provisionings, at))],
      ['awaiting payment', yesNo(e.awaitingPayment)],
      ['provisioned', provisionedText(e)],
      ['orgs', `${orgs.length}${orgNames ? ` (${orgNames})` : ''}`],
      ['users', String(users)],
    ]),
    '  timeline',
    indent(timelineTable(e, at, window), 4),
  ];
}

/**
 * Whether the adapter has it; with no access left, that a loss is settling and when the ledger
 * announces it (the deprovision and the mails follow), so a `no` in checks and a `yes` here agree.
 */
function provisionedText(e: Entitlement): string {
  if (!e.provisioned || e.hasAccess) {
    return yesNo(e.provisioned);
  }
  const due = e.nextCheckAt ? `at ${iso(e.nextCheckAt)}` : 'at the next expiry run';
  return `yes (the loss settles: deprovision due ${due}, or cancelled by a renewal before)`;
}

/**
 * The entitlement's spans and the renewal windows after them (access held for a renewal that may
 * still arrive; longer than `settleMs` when the receiver's gaps swallowed Aqueduct's retries), the
 * one holding `at` marked.
 */
function timelineTable(e: Entitlement, at: Date, window: RenewalWindow): string {
  const windows = renewalWindows(e.timeline, window).map((w) => ({
    ...w,
    status: w.until.getTime() - w.from.getTime() > window.settleMs ? 'window (gap)' : 'window',
  }));
  const rows = [...e.timeline, ...windows].sort((a, b) => a.from.getTime() - b.from.getTime());
  return table(
    ['from', 'until', 'status', ''],
    rows.map((s) => [
      iso(s.from),
      iso(s.until),
      s.status,
      s.from.getTime() <= at.getTime() && at.getTime() < s.until.getTime() ? '<- now' : '',
    ]),
  );
}

function provisioningsTable(provisionings: Provisioning[]): string {
  return table(
    ['product', 'key', 'invoice', 'start', 'end', 'access until', 'paid at', 'last event'],
    provisionings.map((p) => [
      printable(p.productId),
      printable(p.key),
      printable(p.invoiceId ?? ''),
      iso(p.startDate),
      iso(p.endDate),
      iso(p.accessUntil),
      iso(p.paidAt),
      `${printable(p.lastEventType)} ${iso(p.lastEventAt)}`,
    ]),
  );
}
