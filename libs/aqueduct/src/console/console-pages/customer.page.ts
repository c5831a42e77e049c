import type { Entitlement } from '../../access/aqueduct-access.service';
import type { EventPage, EventSummary } from '../../events/aqueduct-events.service';
import { html, type SafeHtml } from '../console-html';
import { badge, timeOf, type Tone } from './console-format';
import { eventTable, pager } from './events.page';
import type { PageContext } from './layout.page';

/** A customer: what they may use now, and the events that made it so. */
export function customerPage(
  context: PageContext,
  customerId: string,
  entitlements: Entitlement[],
  timeline: EventPage<EventSummary>,
): SafeHtml {
  const { links } = context;
  return html`<p class="crumbs"><a href="${links.events()}">Events</a> / customer</p>
    <h1>Customer <span class="mono">${customerId}</span></h1>
    <p class="sub">
      <a href="${links.events({ customer: customerId })}">Filter the event list on this customer</a>
    </p>
    <h2>Entitlements</h2>
    ${entitlementTable(entitlements)}
    <h2>Timeline</h2>
    <p class="sub">
      The events naming this customer, newest first: the ledger applies each one only if it is newer
      than the last it applied.
    </p>
    ${eventTable(links, timeline.items, 'No events name this customer.', false)}
    ${pager(timeline, (cursor) => `${links.customer(customerId)}${query(cursor)}`)}`;
}

const ENTITLEMENT_TONES: Record<string, Tone> = {
  scheduled: 'info',
  active: 'ok',
  grace: 'warn',
  expired: 'idle',
};

function entitlementTable(entitlements: Entitlement[]): SafeHtml {
  if (entitlements.length === 0) {
    return html`<div class="empty">No entitlements.</div>`;
  }
  return html`<table>
    <thead>
      <tr>
        <th>Product</th>
        <th>Status</th>
        <th>Access</th>
        <th>Start</th>
        <th>End</th>
        <th>Grace ends</th>
        <th>Orgs</th>
        <th>Last event</th>
      </tr>
    </thead>
    <tbody>
      ${entitlements.map(
        (e) =>
          html`<tr>
            <td class="mono">
              ${e.productId}${
                e.subscriptionId ? html`<div class="sub">${e.subscriptionId}</div>` : null
              }
            </td>
            <td>${badge(e.status, ENTITLEMENT_TONES[e.status])}</td>
            <td>${e.hasAccess ? badge('yes', 'ok') : badge('no', 'idle')}</td>
            <td class="nowrap">${timeOf(e.startDate)}</td>
            <td class="nowrap">${timeOf(e.endDate)}</td>
            <td class="nowrap">${timeOf(e.gracePeriodEndDate)}</td>
            <td>
              ${(e.orgs ?? []).map(
                (org) =>
                  html`<div>
                    ${org.name} <span class="sub">(${org.users?.length ?? 0} users)</span>
                  </div>`,
              )}
            </td>
            <td>
              <span class="mono">${e.lastEventType}</span>
              <div class="sub">${timeOf(e.lastEventAt)}</div>
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function query(cursor: { before?: string; after?: string }): string {
  const params = new URLSearchParams(cursor as Record<string, string>).toString();
  return params ? `?${params}` : '';
}
