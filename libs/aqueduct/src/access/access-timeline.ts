import type { EntitlementStatus } from '../events/access-status';
import type {
  AccessAt,
  AccessEvaluation,
  AccessSegment,
  AccessWindow,
  ProvisioningDates,
} from './access-timeline.interfaces';
import { mergeOrgs, seatCount } from './access-timeline.orgs';
import type { RenewalWindow } from './renewal-window';

export type * from './access-timeline.interfaces';
export { mergeOrgs, peopleOf, sameOrgs, seatCount } from './access-timeline.orgs';

const ms = (date: Date) => date.getTime();
const later = (a: Date, b: Date) => (ms(a) >= ms(b) ? a : b);

/**
 * The window of one provisioning: `[startDate, accessUntil)`. When payment is required and the
 * provisioning has an invoice, it opens only once that invoice is paid, and not before the payment
 * arrived; unpaid, it gives nothing (null). A provisioning without an invoice has nothing to wait for.
 */
export function accessWindow(
  provisioning: ProvisioningDates,
  requirePayment: boolean,
): AccessWindow | null {
  let from = provisioning.startDate;
  if (requirePayment && provisioning.invoiceId) {
    if (!provisioning.paidAt) {
      return null;
    }
    from = later(from, provisioning.paidAt);
  }
  const paidUntil = later(provisioning.endDate, from);
  const until = later(provisioning.accessUntil, paidUntil);
  if (ms(until) <= ms(from)) {
    return null;
  }
  return {
    key: provisioning.key,
    from,
    paidUntil,
    until,
    startDate: provisioning.startDate,
    orgs: provisioning.orgs,
  };
}

/**
 * The union of the windows, cut where its status changes: `active` wherever some provisioning's
 * paid period covers the moment, else `grace` wherever some grace period does. Adjacent stretches
 * of one status are one segment, so a subscription renewed on time is a single `active` segment
 * followed by the last period's grace.
 */
export function accessTimeline(windows: AccessWindow[]): AccessSegment[] {
  return statusTimeline(seatedTimeline(windows, Number.POSITIVE_INFINITY));
}

/**
 * The union of the windows cut where its status or its seats change, each segment ending after
 * `seatsFrom` with the people the windows covering it carry (`seatCount`): what the ledger
 * stores, so that a check counts seats for the moment it asks about, not as of the last
 * evaluation (a start known ahead of its date, a renewal with more users). Earlier segments carry
 * none: the ledger reads the users of the provisionings that may still grant access only.
 */
export function seatedTimeline(
  windows: AccessWindow[],
  seatsFrom: number,
  window?: RenewalWindow,
): AccessSegment[] {
  // Status by running counts at the boundaries (O(n log n)); seats only where they are kept,
  // from the few windows still open after `seatsFrom`, so a long history costs its dates alone.
  const deltas = new Map<number, { paid: number; open: number }>();
  const add = (at: number, paid: number, open: number) => {
    const delta = deltas.get(at) ?? { paid: 0, open: 0 };
    delta.paid += paid;
    delta.open += open;
    deltas.set(at, delta);
  };
  // A window's people keep their seats through its renewal window too (`heldUntil`), as they
  // keep their place among the orgs the adapter is given: where they stop counting is a cut.
  const seatsUntil = new Map<AccessWindow, number>();
  for (const w of windows) {
    add(ms(w.from), 1, 1);
    add(ms(w.paidUntil), -1, 0);
    add(ms(w.until), 0, -1);
    const held = heldUntil(w, window);
    seatsUntil.set(w, held);
    if (held > ms(w.until)) {
      add(held, 0, 0);
    }
  }
  const ahead = windows.filter((w) => seatsUntil.get(w)! > seatsFrom);
  const points = [...deltas.keys()].sort((a, b) => a - b);
  const segments: AccessSegment[] = [];
  let [paid, open] = [0, 0];
  for (let i = 0; i + 1 < points.length; i++) {
    const [from, until] = [points[i], points[i + 1]];
    const delta = deltas.get(from)!;
    paid += delta.paid;
    open += delta.open;
    if (open <= 0) {
      continue;
    }
    const status = paid > 0 ? 'active' : 'grace';
    const seats =
      until > seatsFrom
        ? seatCount(
            ahead
              .filter((w) => ms(w.from) <= from && from < seatsUntil.get(w)!)
              .flatMap((w) => w.orgs ?? []),
          )
        : undefined;
    const last = segments.at(-1);
    if (last && last.status === status && last.seats === seats && ms(last.until) === from) {
      last.until = new Date(until);
    } else {
      segments.push({
        from: new Date(from),
        until: new Date(until),
        status,
        ...(seats === undefined ? {} : { seats }),
      });
    }
  }
  return segments;
}

/** A timeline with adjacent segments of one status merged, seats left out (what checks follow). */
export function statusTimeline(segments: readonly AccessSegment[]): AccessSegment[] {
  const merged: AccessSegment[] = [];
  for (const { from, until, status } of segments) {
    const last = merged.at(-1);
    if (last && last.status === status && ms(last.until) === ms(from)) {
      last.until = until;
    } else {
      merged.push({ from, until, status });
    }
  }
  return merged;
}

/**
 * Where each covered span of a timeline ends, as `[end, last paid end, next span's start, …]` in ms
 * (Infinity: no span follows); spans without a paid period are left out: no window follows them.
 */
export function spanEnds(timeline: AccessSegment[]): number[] {
  const ends: number[] = [];
  let lastPaidEnd = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < timeline.length; i++) {
    const segment = timeline[i];
    if (segment.status === 'active') {
      lastPaidEnd = ms(segment.until);
    }
    const next = timeline.at(i + 1);
    if (next && ms(next.from) <= ms(segment.until)) {
      continue; // the span goes on
    }
    if (Number.isFinite(lastPaidEnd)) {
      ends.push(ms(segment.until), lastPaidEnd, next ? ms(next.from) : Infinity);
    }
    lastPaidEnd = Number.NEGATIVE_INFINITY;
  }
  return ends;
}

/**
 * The renewal windows after the span ends `ends` (as `spanEnds` lists them), as `[from, until, …]`:
 * access lasts past the last paid end of each covered span until `window` closes (`settleMs`,
 * longer when the receiver's gaps swallowed Aqueduct's attempts: see `RenewalWindow`). Aqueduct
 * fires the renewal's `provisioning.start` at the moment the paid period ends, so it reaches the
 * module a little after it, or (refused then) with a retry; without the window a renewing customer
 * would be refused meanwhile. A grace period that runs longer is its own window and ends exactly; a
 * shorter one (or none) is stretched. Each window runs from its span's end and closes where the
 * next span starts.
 */
export function windowSpans(ends: readonly number[], window: RenewalWindow): number[] {
  const spans: number[] = [];
  if (window.settleMs <= 0) {
    return spans;
  }
  for (let i = 0; i < ends.length; i += 3) {
    const until = Math.min(window.closesAt(ends[i + 1]), ends[i + 2]);
    if (until > ends[i]) {
      spans.push(ends[i], until);
    }
  }
  return spans;
}

/** The renewal windows of a timeline (see `windowSpans`), as grace segments. */
export function renewalWindows(timeline: AccessSegment[], window: RenewalWindow): AccessSegment[] {
  const spans = windowSpans(spanEnds(timeline), window);
  const windows: AccessSegment[] = [];
  for (let i = 0; i < spans.length; i += 2) {
    windows.push({ from: new Date(spans[i]), until: new Date(spans[i + 1]), status: 'grace' });
  }
  return windows;
}

/** The timeline access checks follow: the timeline with its renewal windows, as grace. */
export function withRenewalWindow(
  timeline: AccessSegment[],
  window: RenewalWindow,
): AccessSegment[] {
  const windows = renewalWindows(timeline, window);
  return windows.length === 0
    ? timeline
    : [...timeline, ...windows].sort((a, b) => ms(a.from) - ms(b.from));
}

/** Access at the moment `at`, read off the timeline. */
export function accessAt(timeline: AccessSegment[], at: Date): AccessAt {
  const t = ms(at);
  const index = timeline.findIndex((s) => ms(s.from) <= t && t < ms(s.until));
  const renewalAhead = timeline.some((s) => s.status === 'active' && ms(s.from) > t);
  const next = timeline.find((s) => ms(s.from) > t);
  if (index < 0) {
    const past = timeline.filter((s) => ms(s.until) <= t);
    return {
      status: next ? 'scheduled' : 'expired',
      hasAccess: false,
      since: null,
      accessUntil: null,
      paidUntil: null,
      graceSince: null,
      renewalAhead,
      renewedInSpan: false,
      lostAt: past.at(-1)?.until ?? null,
      changesAt: next?.from ?? null,
    };
  }
  let first = index;
  while (first > 0 && ms(timeline[first - 1].until) === ms(timeline[first].from)) {
    first--;
  }
  let last = index;
  while (last + 1 < timeline.length && ms(timeline[last + 1].from) === ms(timeline[last].until)) {
    last++;
  }
  const span = timeline.slice(first, last + 1);
  const segment = timeline[index];
  return {
    status: segment.status,
    hasAccess: true,
    since: span[0].from,
    accessUntil: span[span.length - 1].until,
    paidUntil: span.filter((s) => s.status === 'active').at(-1)?.until ?? null,
    graceSince: segment.status === 'grace' ? segment.from : null,
    renewalAhead,
    renewedInSpan: span.some((s) => s.status === 'active' && ms(s.from) > t),
    lostAt: null,
    changesAt: segment.until,
  };
}

/**
 * The windows that ended before `t` whose users are still held: their renewal window (after their
 * own paid end, see `RenewalWindow`) is open. Aqueduct sends a renewal's start as the period
 * ends; when another subscription of the product keeps access going, the users of the one
 * renewing must not be removed meanwhile, only to be added back (and welcomed again) when its
 * start arrives. A grace period longer than the window holds them itself.
 */
function heldWindows(windows: AccessWindow[], t: number, window?: RenewalWindow): AccessWindow[] {
  return window ? windows.filter((w) => ms(w.until) <= t && t < heldUntil(w, window)) : [];
}

/** Until when a window's users keep their place: its end, or its renewal window's close. */
function heldUntil(w: AccessWindow, window?: RenewalWindow): number {
  return window ? Math.max(ms(w.until), window.closesAt(ms(w.paidUntil))) : ms(w.until);
}

/**
 * What the provisionings of one (customer, product) give at `now`, payment required or not. With
 * `window`, the users of a provisioning whose renewal may still arrive stay among `orgs` (see
 * `heldWindows`) while another keeps access going, and the window's close is a change ahead.
 */
export function evaluateAccess(
  provisionings: ProvisioningDates[],
  requirePayment: boolean,
  now: Date,
  window?: RenewalWindow,
): AccessEvaluation {
  const windows = provisionings
    .map((p) => accessWindow(p, requirePayment))
    .filter((w): w is AccessWindow => w !== null);
  const t = ms(now);
  const segments = seatedTimeline(windows, t, window);
  const timeline = statusTimeline(segments);
  const granting = windows.filter((w) => ms(w.from) <= t && t < ms(w.until));
  const held = heldWindows(windows, t, window);
  const unpaid = requirePayment ? provisionings.filter((p) => p.invoiceId && !p.paidAt) : [];
  // An unpaid provisioning's end is a change too: from then on nothing is awaiting its payment.
  const upcoming = [
    ...windows.flatMap((w) => [ms(w.from), ms(w.paidUntil), ms(w.until)]),
    ...unpaid.map((p) => ms(p.accessUntil)),
    ...held.map((w) => heldUntil(w, window)),
  ].filter((point) => point > t);
  const awaitingPayment = unpaid.some((p) => ms(p.accessUntil) > t);
  const state = accessAt(timeline, now);
  return {
    ...state,
    status: withPayment(state.status, awaitingPayment),
    timeline,
    segments,
    // The held come after the granting: a renewal's own names win once it has arrived.
    orgs: held.length > 0 && granting.length > 0 ? mergeOrgs(granting, held) : mergeOrgs(granting),
    granting: granting.map((w) => w.key).sort(),
    awaitingPayment,
    nextChangeAt: upcoming.length > 0 ? new Date(Math.min(...upcoming)) : null,
  };
}

/** Nothing covers the moment and nothing is ahead, but an unpaid provisioning may still open. */
export const withPayment = (status: EntitlementStatus, awaitingPayment: boolean) =>
  status === 'expired' && awaitingPayment ? 'scheduled' : status;
