import type { EventPage, EventSummary } from '../../storage/aqueduct-storage.types';
import { html, type SafeHtml } from '../console-html';
import type { EventQueryForm } from '../console-query';
import type { ConsoleLinks } from '../console-routes';
import { badge, timeOf, toneOf } from './console-format';
import type { PageContext } from './layout.page';

const STATUS_CHOICES: [string, string][] = [
  ['', 'Any status'],
  ['accepted', 'Accepted'],
  ['quarantined', 'Quarantined'],
  ['dismissed', 'Dismissed'],
  ['dead', 'With dead deliveries'],
];

/** The event list: filters, one page of events, links to the older and newer pages. */
export function eventsPage(
  context: PageContext,
  page: EventPage<EventSummary>,
  form: EventQueryForm,
  knownTypes: readonly string[],
): SafeHtml {
  const { links } = context;
  return html`<h1>Events</h1>
    <p class="sub">Newest first. Times are UTC.</p>
    <form class="filters" method="get" action="${links.events()}">
      <label
        >Type
        <input name="type" value="${form.type}" list="event-types" placeholder="provisioning.start"
      /></label>
      <datalist id="event-types">
        ${knownTypes.map((type) => html`<option value="${type}"></option>`)}
      </datalist>
      <label
        >Status
        <select name="status">
          ${STATUS_CHOICES.map(
            ([value, label]) =>
              html`<option value="${value}" ${value === form.status ? html` selected` : null}>
                ${label}
              </option>`,
          )}
        </select></label
      >
      <label
        >Customer <input name="customer" value="${form.customer}" placeholder="owner_…"
      /></label>
      <label
        >Received from <input type="datetime-local" name="from" value="${form.from}" step="1"
      /></label>
      <label
        >Received before <input type="datetime-local" name="to" value="${form.to}" step="1"
      /></label>
      <button type="submit" class="primary">Filter</button>
      <a class="button" href="${links.events()}">Reset</a>
    </form>
    ${eventTable(links, page.items, 'No events match these filters.')}
    ${pager(page, (cursor) => links.events({ ...form, ...cursor }))}`;
}

/** Events as rows; shared with the customer page's timeline. */
export function eventTable(
  links: ConsoleLinks,
  events: EventSummary[],
  empty: string,
  showCustomer = true,
): SafeHtml {
  if (events.length === 0) {
    return html`<div class="empty">${empty}</div>`;
  }
  return html`<table>
    <thead>
      <tr>
        <th>Received</th>
        <th>Type</th>
        ${showCustomer ? html`<th>Customer</th>` : null}
        <th>Status</th>
        <th>Deliveries</th>
        <th>Event</th>
      </tr>
    </thead>
    <tbody>
      ${events.map(
        (event) =>
          html`<tr>
            <td class="nowrap">${timeOf(event.receivedAt)}</td>
            <td class="mono">${event.type}</td>
            ${
              showCustomer
                ? html`<td class="mono">
                    ${event.customerId ? html`<a href="${links.customer(event.customerId)}">${event.customerId}</a>` : '—'}
                  </td>`
                : null
            }
            <td>${badge(event.status)}</td>
            <td>${deliverySummary(event)}</td>
            <td class="mono"><a href="${links.event(event.id)}">${event.id.slice(0, 8)}</a></td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function deliverySummary(event: EventSummary): SafeHtml {
  const states = (['dead', 'active', 'pending', 'done'] as const).filter(
    (state) => event.deliveries[state],
  );
  if (states.length === 0) {
    return html`<span class="sub">none</span>`;
  }
  return html`${states.map((state) => badge(`${event.deliveries[state]} ${state}`, toneOf(state)))}`;
}

/** Links to the newest, newer and older pages; `href` keeps the page's filters. */
export function pager(
  page: EventPage<unknown>,
  href: (cursor: { before?: string; after?: string }) => string,
): SafeHtml {
  return html`<nav class="pager" aria-label="Pages">
    ${page.newer ? html`<a href="${href({})}">Newest</a>` : null}
    ${
      page.newer
        ? html`<a rel="prev" href="${href({ after: page.newer })}">← Newer</a>`
        : html`<span class="disabled">← Newer</span>`
    }
    ${
      page.older
        ? html`<a rel="next" href="${href({ before: page.older })}">Older →</a>`
        : html`<span class="disabled">Older →</span>`
    }
  </nav>`;
}
