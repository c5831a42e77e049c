import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { EntitlementStatus } from '../events/access-status';

/** A stretch of the access timeline: paid (`active`) or in a grace period (`grace`). */
export interface AccessSegment {
  from: Date;
  until: Date;
  status: 'active' | 'grace';
}

/** The access one provisioning gives: paid from `from` to `paidUntil`, then grace until `until`. */
export interface AccessWindow {
  /** The provisioning's key. */
  key: string;
  /** When it starts giving access: its start date, or a later payment. */
  from: Date;
  paidUntil: Date;
  until: Date;
  /** Its start date as Aqueduct gave it: the newest period's names win when orgs are merged. */
  startDate: Date;
  orgs: ProvisioningOrgDto[];
}

/** What a provisioning record holds that decides its window. */
export interface ProvisioningDates {
  key: string;
  startDate: Date;
  endDate: Date;
  /** The grace period's end, or the end date without one (never before it). */
  accessUntil: Date;
  invoiceId: string | null;
  orgs: ProvisioningOrgDto[];
  /** When an `invoice.paid` for its invoice reached the module; null when none has. */
  paidAt: Date | null;
}

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
 * followed by the last period's grace. A sweep over the boundaries with running counts of open
 * windows: O(n log n) in the number of provisionings.
 */
export function accessTimeline(windows: AccessWindow[]): AccessSegment[] {
  const deltas = new Map<number, { paid: number; open: number }>();
  const add = (at: Date, paid: number, open: number) => {
    const delta = deltas.get(ms(at)) ?? { paid: 0, open: 0 };
    delta.paid += paid;
    delta.open += open;
    deltas.set(ms(at), delta);
  };
  for (const window of windows) {
    add(window.from, 1, 1);
    add(window.paidUntil, -1, 0);
    add(window.until, 0, -1);
  }
  const points = [...deltas.keys()].sort((a, b) => a - b);
  const segments: AccessSegment[] = [];
  let [paid, open] = [0, 0];
  for (let i = 0; i + 1 < points.length; i++) {
    const delta = deltas.get(points[i])!;
    paid += delta.paid;
    open += delta.open;
    const status = paid > 0 ? 'active' : open > 0 ? 'grace' : null;
    if (!status) {
      continue;
    }
    const last = segments.at(-1);
    if (last && last.status === status && ms(last.until) === points[i]) {
      last.until = new Date(points[i + 1]);
    } else {
      segments.push({ from: new Date(points[i]), until: new Date(points[i + 1]), status });
    }
  }
  return segments;
}

/** Access at one moment, read off a timeline alone (what the access checks use). */
export interface AccessAt {
  status: EntitlementStatus;
  hasAccess: boolean;
  /** Start of the covered span holding the moment (contiguous segments), when there is access. */
  since: Date | null;
  /** End of that span: access lasts until then unless something new arrives. */
  accessUntil: Date | null;
  /** End of the span's last paid stretch. */
  paidUntil: Date | null;
  /** In grace: when the grace began (the last paid period's end). */
  graceSince: Date | null;
  /** A paid stretch starts after the moment: a renewal or a new subscription is already known. */
  renewalAhead: boolean;
  /** Without access: when access last ended, or null if it never existed before the moment. */
  lostAt: Date | null;
  /** The next moment the status changes, from what is known. */
  changesAt: Date | null;
}

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
    lostAt: null,
    changesAt: segment.until,
  };
}

/** `hasAccess` at a moment, for the hot path: no allocation beyond the scan. */
export function coversMoment(timeline: AccessSegment[], at: Date): boolean {
  const t = ms(at);
  return timeline.some((s) => ms(s.from) <= t && t < ms(s.until));
}

/**
 * The orgs and users of the windows that grant access now, merged: orgs by name, users by email
 * (case-insensitive; by name when there is none). The newest period comes first, so its names and
 * extra fields win and its order is kept; a renewal that repeats the previous period's orgs yields
 * exactly those orgs, so it changes nothing for the adapter.
 */
export function mergeOrgs(windows: AccessWindow[]): ProvisioningOrgDto[] {
  const ordered = [...windows].sort(
    (a, b) => ms(b.startDate) - ms(a.startDate) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
  );
  const orgs = new Map<string, { org: ProvisioningOrgDto; users: Map<string, unknown> }>();
  for (const window of ordered) {
    for (const org of window.orgs ?? []) {
      let entry = orgs.get(org.name);
      if (!entry) {
        entry = { org, users: new Map() };
        orgs.set(org.name, entry);
      }
      for (const user of org.users ?? []) {
        const email = typeof user.email === 'string' ? user.email.trim().toLowerCase() : '';
        const id = email ? `email:${email}` : `name:${String(user.name ?? '')}`;
        if (!entry.users.has(id)) {
          entry.users.set(id, user);
        }
      }
    }
  }
  return [...orgs.values()].map(
    ({ org, users }) => ({ ...org, users: [...users.values()] }) as ProvisioningOrgDto,
  );
}

/** Everything the ledger derives from a customer's provisionings of one product, at `now`. */
export interface AccessEvaluation extends AccessAt {
  timeline: AccessSegment[];
  /** The orgs and users of the provisionings granting access now. */
  orgs: ProvisioningOrgDto[];
  /** Keys of the provisionings granting access now. */
  granting: string[];
  /** Some provisioning waits for its invoice to be paid (only when payment is required). */
  awaitingPayment: boolean;
  /** The next moment anything here changes (status, or which provisionings grant access). */
  nextChangeAt: Date | null;
}

export function evaluateAccess(
  provisionings: ProvisioningDates[],
  requirePayment: boolean,
  now: Date,
): AccessEvaluation {
  const windows = provisionings
    .map((p) => accessWindow(p, requirePayment))
    .filter((w): w is AccessWindow => w !== null);
  const timeline = accessTimeline(windows);
  const t = ms(now);
  const granting = windows.filter((w) => ms(w.from) <= t && t < ms(w.until));
  const upcoming = windows
    .flatMap((w) => [ms(w.from), ms(w.paidUntil), ms(w.until)])
    .filter((point) => point > t);
  const awaitingPayment =
    requirePayment && provisionings.some((p) => p.invoiceId && !p.paidAt && ms(p.accessUntil) > t);
  const state = accessAt(timeline, now);
  return {
    ...state,
    status: withPayment(state.status, awaitingPayment),
    timeline,
    orgs: mergeOrgs(granting),
    granting: granting.map((w) => w.key).sort(),
    awaitingPayment,
    nextChangeAt: upcoming.length > 0 ? new Date(Math.min(...upcoming)) : null,
  };
}

/** Nothing covers the moment and nothing is ahead, but an unpaid provisioning may still open. */
export const withPayment = (status: EntitlementStatus, awaitingPayment: boolean) =>
  status === 'expired' && awaitingPayment ? 'scheduled' : status;
