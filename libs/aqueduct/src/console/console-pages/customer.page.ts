import type { Entitlement, Provisioning } from '../../access/aqueduct-access.service';
import { renewalKnown } from '../../access/renewal-ahead';
import type { EventPage, EventSummary } from '../../storage/aqueduct-storage.types';
import { html, type SafeHtml } from '../console-html';
import { accessTimelineSvg } from './access-timeline.svg';
import { badge, timeOf, type Tone } from './console-format';
import { eventTable, pager } from './events.page';
import type { PageContext } from './layout.page';

/**
 * A customer: per product, whether they have access now and why (their provisionings drawn on one
 * timeline, and the access they add up to), then the events that made it so.
 */
export function customerPage(
  context: PageContext,
  customerId: string,
  entitlements: Entitlement[],
  provisionings: Provisioning[],
  timeline: EventPage<EventSummary>,
  now: Date,
): SafeHtml {
  const { links } = context;
  return html`<p class="crumbs"><a href="${links.events()}">Events</a> / customer</p>
    <h1>Customer <span class="mono">${customerId}</span></h1>
    <p class="sub">
      <a href="${links.events({ customer: customerId })}">Filter the event list on this customer</a>
    </p>
    <h2>Entitlements</h2>
    <p class="sub">
      Access to a product is the union of its provisionings' windows, each from its start until its
      grace period ends: a renewal keeps it whole.
    </p>
    ${entitlementTable(entitlements, provisionings, now)}
    ${entitlements.map((entitlement) =>
      productSection(
        entitlement,
        provisionings.filter((p) => p.productId === entitlement.productId),
        now,
      ),
    )}
    <h2>Timeline</h2>
    <p class="sub">
      The events naming this customer, newest first: the ledger applies each one to its provisioning
      only if it is newer than the last it applied.
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

function entitlementTable(
  entitlements: Entitlement[],
  provisionings: Provisioning[],
  now: Date,
): SafeHtml {
  if (entitlements.length === 0) {
    return html`<div class="empty">No entitlements.</div>`;
  }
  return html`<table>
    <thead>
      <tr>
        <th>Product</th>
        <th>Status</th>
        <th>Access</th>
        <th>Since</th>
        <th>Paid until</th>
        <th>Access until</th>
        <th>Next change</th>
        <th>Orgs</th>
        <th>Adapter</th>
      </tr>
    </thead>
    <tbody>
      ${entitlements.map(
        (e) =>
          html`<tr>
            <td class="mono">${e.productId}</td>
            <td>
              ${badge(e.status, ENTITLEMENT_TONES[e.status])}
              ${e.awaitingPayment ? badge('awaiting payment', 'info') : null}
              ${renewalKnown(e, provisionings, now) ? badge('renewal ahead', 'ok') : null}
            </td>
            <td>${e.hasAccess ? badge('yes', 'ok') : badge('no', 'idle')}</td>
            <td class="nowrap">${timeOf(e.since)}</td>
            <td class="nowrap">${timeOf(e.paidUntil)}</td>
            <td class="nowrap">${timeOf(e.accessUntil)}</td>
            <td class="nowrap">${timeOf(e.changesAt)}</td>
            <td>
              ${(e.orgs ?? []).map(
                (org) =>
                  html`<div>
                    ${org.name} <span class="sub">(${org.users?.length ?? 0} users)</span>
                  </div>`,
              )}
            </td>
            <td>
              ${e.provisioned ? badge('provisioned', 'ok') : badge('not provisioned', 'idle')}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function productSection(
  entitlement: Entitlement,
  provisionings: Provisioning[],
  now: Date,
): SafeHtml {
  return html`<section class="product" data-product="${entitlement.productId}">
    <h2><span class="mono">${entitlement.productId}</span>: why</h2>
    <figure class="timeline">
      ${accessTimelineSvg(entitlement, provisionings, now)}
      <figcaption class="sub">
        <span class="key k-paid"></span> paid period <span class="key k-grace"></span> grace period
        <span class="key k-access"></span> access (paid)
        <span class="key k-access-grace"></span> access (grace) <span class="key k-now"></span> now
      </figcaption>
    </figure>
    ${provisioningTable(provisionings)}
  </section>`;
}

function provisioningTable(provisionings: Provisioning[]): SafeHtml {
  return html`<table class="provisionings">
    <thead>
      <tr>
        <th>Provisioning</th>
        <th>Start</th>
        <th>End</th>
        <th>Access until</th>
        <th>Paid</th>
        <th>Last event</th>
      </tr>
    </thead>
    <tbody>
      ${provisionings.map(
        (p) =>
          html`<tr>
            <td class="mono">
              ${p.key} ${p.subscriptionId ? html`<div class="sub">${p.subscriptionId}</div>` : null}
            </td>
            <td class="nowrap">${timeOf(p.startDate)}</td>
            <td class="nowrap">${timeOf(p.endDate)}</td>
            <td class="nowrap">${timeOf(p.accessUntil)}</td>
            <td class="nowrap">${p.invoiceId ? timeOf(p.paidAt) : '—'}</td>
            <td>
              <span class="mono">${p.lastEventType}</span>
              <div class="sub">${timeOf(p.lastEventAt)}</div>
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
