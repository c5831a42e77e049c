import { type DeliveryAttempt, isAttemptRun } from '../../storage/delivery-attempt-log';
import type { StoredDelivery, StoredEvent } from '../../storage/aqueduct-storage.types';
import { CSRF_FIELD } from '../console.constants';
import { html, type SafeHtml } from '../console-html';
import { formatDuration } from '../../utils/format-duration';
import { badge, between, timeOf } from './console-format';
import type { PageContext } from './layout.page';

export type EventDetail = StoredEvent & { deliveries: StoredDelivery[]; rawBody: string | null };

/**
 * Headers never shown, whatever was stored: the module keeps no signature or secret, and this
 * holds for rows written by other versions or by hand too.
 */
const HIDDEN_HEADER = /signature|secret|authorization|cookie|token|api-key/i;

/** One event: what arrived, how each listener fared, and the buttons to run them again. */
export function eventPage(
  context: PageContext,
  event: EventDetail,
  flash: string | null,
): SafeHtml {
  const { links } = context;
  return html`${flash ? html`<div class="flash" role="status">${flash}</div>` : null}
    <p class="crumbs"><a href="${links.events()}">Events</a> / event</p>
    <h1><span class="mono">${event.type}</span> ${badge(event.status)}</h1>
    <p class="sub mono">${event.id}</p>
    ${event.status === 'quarantined' ? quarantineActions(context, event) : replayAction(context, event)}
    <div class="grid">
      <section>
        <h2>Event</h2>
        <dl class="meta">
          <dt>Customer</dt>
          <dd class="mono">
            ${
              event.customerId
                ? html`<a href="${links.customer(event.customerId)}">${event.customerId}</a>`
                : '—'
            }
          </dd>
          <dt>Created (by Aqueduct)</dt>
          <dd>${timeOf(event.createdAt)}</dd>
          <dt>Received</dt>
          <dd>${timeOf(event.receivedAt)}</dd>
          <dt>Delivery id</dt>
          <dd class="mono">${event.deliveryId ?? '—'}</dd>
        </dl>
        ${
          event.errors?.length
            ? html`<h2>Validation errors</h2>
                <pre class="error">${event.errors.join('\n')}</pre>`
            : null
        }
        ${
          event.warnings?.length
            ? html`<h2>Accepted with</h2>
                <pre>${event.warnings.join('\n')}</pre>`
            : null
        }
      </section>
      <section>
        <h2>Headers</h2>
        ${headerTable(event.headers)}
      </section>
    </div>
    <h2>Deliveries</h2>
    ${deliveryTable(context, event)}
    <h2>Payload</h2>
    <pre class="mono" id="payload">
${
        event.payload !== null && event.payload !== undefined
          ? JSON.stringify(event.payload, null, 2)
          : (event.rawBody ?? '(empty body)')
      }</pre>`;
}

function replayAction(context: PageContext, event: EventDetail): SafeHtml {
  return html`<div class="actions">
    <form method="post" action="${context.links.replay(event.id)}">
      ${csrfField(context)}
      <button type="submit" class="primary">Replay</button>
    </form>
    <span class="sub">Runs every listener again with the same idempotency keys.</span>
  </div>`;
}

/** A quarantined event: parse its stored bytes again (after a fix), or set it aside. */
function quarantineActions(context: PageContext, event: EventDetail): SafeHtml {
  return html`<div class="actions">
    <form method="post" action="${context.links.reprocess(event.id)}">
      ${csrfField(context)}
      <button type="submit" class="primary">Reprocess</button>
    </form>
    <form method="post" action="${context.links.dismiss(event.id)}">
      ${csrfField(context)}
      <button type="submit" class="danger">Dismiss</button>
    </form>
    <span class="sub">
      Authentic but not understood, so answered 2xx and kept byte for byte. Reprocess parses it
      again with today's code and delivers it if it passes; dismiss sets it aside for good.
    </span>
  </div>`;
}

function headerTable(headers: Record<string, string>): SafeHtml {
  const shown = Object.entries(headers ?? {}).filter(([name]) => !HIDDEN_HEADER.test(name));
  if (shown.length === 0) {
    return html`<div class="empty">No headers kept.</div>`;
  }
  return html`<table>
    <tbody>
      ${shown.map(
        ([name, value]) =>
          html`<tr>
            <td class="name">${name}</td>
            <td class="mono">${String(value)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function deliveryTable(context: PageContext, event: EventDetail): SafeHtml {
  if (event.deliveries.length === 0) {
    return html`<div class="empty">
      ${
        event.status === 'quarantined'
          ? 'No listener runs while the event is quarantined: reprocess it once the cause is fixed.'
          : event.status === 'dismissed'
            ? 'Dismissed: no listener will run.'
            : 'No listener subscribes to this event.'
      }
    </div>`;
  }
  return html`<table>
    <thead>
      <tr>
        <th>Listener</th>
        <th>State</th>
        <th>Attempts</th>
        <th>Created</th>
        <th>Last started</th>
        <th>Finished</th>
        <th>Took</th>
        <th>Next run</th>
        <th></th>
      </tr>
    </thead>
    <tbody>
      ${event.deliveries.map((delivery) => deliveryRow(context, event.id, delivery))}
    </tbody>
  </table>`;
}

function deliveryRow(context: PageContext, eventId: string, delivery: StoredDelivery): SafeHtml {
  const waiting = delivery.state === 'pending';
  return html`<tr data-listener="${delivery.listener}">
      <td class="mono">${delivery.listener}</td>
      <td>${badge(delivery.state)}</td>
      <td>${delivery.attempts}</td>
      <td class="nowrap">${timeOf(delivery.createdAt)}</td>
      <td class="nowrap" data-col="started">${timeOf(delivery.startedAt)}</td>
      <td class="nowrap">${timeOf(delivery.finishedAt)}</td>
      <td>${formatDuration(between(delivery.startedAt, delivery.finishedAt))}</td>
      <td class="nowrap">${waiting ? timeOf(delivery.runAt) : '—'}</td>
      <td>
        ${
          delivery.state === 'dead'
            ? html`<form method="post" action="${context.links.redrive(eventId)}">
                ${csrfField(context)}<input
                  type="hidden"
                  name="listener"
                  value="${delivery.listener}"
                />
                <button type="submit" class="danger">Redrive</button>
              </form>`
            : null
        }
      </td>
    </tr>
    ${
      delivery.attemptLog?.length
        ? html`<tr class="attempts-row">
            <td></td>
            <td colspan="8">${attemptTable(delivery)}</td>
          </tr>`
        : delivery.lastError
          ? // A row with no log (written before the log existed, or by hand): its last error only.
            html`<tr class="error-row">
              <td></td>
              <td colspan="8"><pre class="error">${delivery.lastError}</pre></td>
            </tr>`
          : null
    }`;
}

/**
 * Each attempt of one delivery, oldest first (so the newest is next to the delivery's current
 * state below it), with replays and redrives as dividers: attempt numbers restart after them.
 */
function attemptTable(delivery: StoredDelivery): SafeHtml {
  return html`<table class="attempts" data-listener="${delivery.listener}">
    <thead>
      <tr>
        <th>#</th>
        <th>Outcome</th>
        <th>Started</th>
        <th>Took</th>
        <th>Error</th>
        <th>Instance</th>
      </tr>
    </thead>
    <tbody>
      ${delivery.attemptLog.map(attemptRow)}
    </tbody>
  </table>`;
}

function attemptRow(entry: DeliveryAttempt): SafeHtml {
  if (!isAttemptRun(entry)) {
    return html`<tr class="marker">
      <td colspan="6">
        ${entry.outcome === 'replayed' ? 'Replayed' : 'Redriven'} ${timeOf(entry.at)}
      </td>
    </tr>`;
  }
  return html`<tr class="attempt">
    <td>${entry.attempt}</td>
    <td>${badge(entry.outcome)}</td>
    <td class="nowrap">${timeOf(entry.startedAt)}</td>
    <td class="nowrap">${formatDuration(entry.durationMs)}</td>
    <td>${entry.error ? html`<pre class="error">${entry.error}</pre>` : '—'}</td>
    <td class="mono instance">${entry.instance ?? '—'}</td>
  </tr>`;
}

function csrfField(context: PageContext): SafeHtml {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${context.csrf}" />`;
}
