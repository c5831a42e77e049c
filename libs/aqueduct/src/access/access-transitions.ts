import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import { AccessEventType, type AccessEventTypeName } from '../events/access-event-types';
import type { AccessEvaluation } from './access-timeline.interfaces';
import { renewalWindows, sameOrgs } from './access-timeline';
import type { RenewalWindow } from './renewal-window';

/** The last state published by an `access.*` event: what the adapter and the mails follow. */
export interface AnnouncedAccess {
  /** `none` until access first starts; `grace` once the grace notice went out. */
  status: 'none' | 'active' | 'grace' | 'expired';
  /** End of the covered span (when access ended, for `expired`). */
  accessUntil: Date | null;
  /** The orgs and users that have access (that had it, for `expired`). */
  orgs: ProvisioningOrgDto[];
}

export interface AccessTransition {
  type: AccessEventTypeName;
  /** The moment it is about: access began, the paid period ended, access ended; else now. */
  at: Date;
  previous: AnnouncedAccess;
  next: AnnouncedAccess;
}

export interface TransitionDecision {
  /** At most one per call: call again with `next` until there is none. */
  transition: AccessTransition | null;
  /** A loss that is not announced yet: look again then. */
  settlesAt: Date | null;
}

const ms = (date: Date | null) => date?.getTime() ?? Number.NEGATIVE_INFINITY;

/**
 * Compares what the provisionings say now with what was last announced, and names the change:
 * - `access.started`: access begins (immediately: a gain is never held back);
 * - `access.renewed`: access continues and its covered span grew (a renewal), or a renewal ended
 *   the grace period;
 * - `access.changed`: access continues with other orgs/users, or a shorter span (a cancellation);
 * - `access.grace`: the paid period ended and no renewal is known, while access continues until
 *   the grace period's end;
 * - `access.expired`: no provisioning grants access any more.
 *
 * The two losses (`access.grace`, `access.expired`) are announced only once the renewal window
 * after the moment they happened has closed (`settleMs`, longer when the receiver was down at
 * Aqueduct's retries: see `RenewalWindow`), and `settleMs` has passed since the ledger first saw
 * them. Aqueduct fires period 2's start and period 1's end at the same moment, in either order:
 * the wait lets a renewal that arrives second cancel the loss, so a renewing customer is neither
 * deprovisioned nor told that anything ended; an end applied after its loss (before the expiry
 * job saw it) waits from its arrival. A renewal later than the window does not stop a loss the
 * dates held. Access checks follow the dates, with the same window (`withRenewalWindow`).
 */
export function nextTransition(
  announced: AnnouncedAccess,
  evaluation: AccessEvaluation,
  now: Date,
  window: RenewalWindow,
  /**
   * When the ledger first saw the loss now pending (null: none was). The wait runs from it too;
   * and it dates a loss the timeline cannot: a window that was withdrawn (a provisioning
   * cancelled before it began) left no past access to end.
   */
  lossObservedAt: Date | null = null,
  /**
   * The evaluation follows news (an event applied): a loss it finds pending is seen now. A sweep
   * finds only what the timeline held before: its losses count as seen when they happened.
   */
  news = false,
): TransitionDecision {
  const seen = { at: lossObservedAt, news, now };
  const had = announced.status === 'active' || announced.status === 'grace';
  if (!evaluation.hasAccess) {
    return had
      ? expiryDecision(announced, evaluation, window, seen)
      : { transition: null, settlesAt: null };
  }
  if (!had) {
    const at = startedAt(announced, evaluation, now);
    return decision(announced, AccessEventType.Started, at, currentAccess(evaluation));
  }
  return continuingDecision(announced, evaluation, window, seen);
}

/**
 * When access began: the start of its span; now, when that span began before an end already
 * announced (a renewal that came after the customer was told access ended joins the old span, but
 * access came back now, not on the day the first period began).
 */
function startedAt(announced: AnnouncedAccess, evaluation: AccessEvaluation, now: Date): Date {
  const since = evaluation.since ?? now;
  const ended = announced.status === 'expired' ? announced.accessUntil : null;
  return ended && ms(since) < ms(ended) ? now : since;
}

/** A transition to announce now. */
function decision(
  previous: AnnouncedAccess,
  type: AccessEventTypeName,
  at: Date,
  next: AnnouncedAccess,
): TransitionDecision {
  return { transition: { type, at, previous, next }, settlesAt: null };
}

/** What is known of when a pending loss was first seen. */
interface Sighting {
  /** As kept from an earlier evaluation (null: none was pending). */
  at: Date | null;
  news: boolean;
  now: Date;
}

/** When a loss that happened at `happened` counts as first seen. */
function firstSeen(seen: Sighting, happened: Date): Date {
  return seen.at ?? (seen.news ? seen.now : happened);
}

/**
 * When a loss may be announced: once the renewal window after the moment it happened has closed,
 * and it has held `settleMs` past the moment it was first seen. From the first alone, a loss
 * learned late (an end applied after its moment, before the expiry job saw it) would be announced
 * on arrival, before a renewal arriving a minute later could cancel it. `paidEnd`: the loss is a
 * paid period's end (a renewal's start is due then), not a grace period's.
 */
function settled(happened: Date, seen: Sighting, window: RenewalWindow, paidEnd: boolean): Date {
  const closes = paidEnd
    ? window.closesAt(happened.getTime())
    : window.closesAfter(happened.getTime());
  return new Date(Math.max(closes, firstSeen(seen, happened).getTime() + window.settleMs));
}

/** Announced as active, now in grace with no renewal known: the grace notice is pending. */
function losingPaidPeriod(announced: AnnouncedAccess, evaluation: AccessEvaluation): boolean {
  return inGrace(evaluation) && announced.status === 'active';
}

/**
 * When access ended: by the timeline, or (a window withdrawn before it began left no past access
 * to end) when the loss was first seen.
 */
function lossMoment(evaluation: AccessEvaluation, seen: Sighting): Date {
  return evaluation.lostAt ?? seen.at ?? seen.now;
}

/**
 * In grace with a renewal already known, the customer is renewed: nothing is ending. A new
 * subscription that starts after this access has ended is not one: the grace notice is due.
 */
function inGrace(evaluation: AccessEvaluation): boolean {
  return evaluation.status === 'grace' && !evaluation.renewedInSpan;
}

/** What an announcement would publish of the access the evaluation gives. */
function currentAccess(evaluation: AccessEvaluation): AnnouncedAccess {
  return {
    status: inGrace(evaluation) ? 'grace' : 'active',
    accessUntil: evaluation.accessUntil,
    orgs: evaluation.orgs,
  };
}

/**
 * When an access that ended may be announced as ended. Learned late (an end applied after the
 * moment it ends access), or undated (a window withdrawn): `settleMs` from when it was seen, so a
 * renewal close behind it still cancels it. Seen when it happened (the dates ran out): when access
 * checks stop granting it, at the end of the renewal window after the span's last paid end, or at
 * the span's end when its grace period runs longer; so the adapter and the mails agree with checks,
 * and a grace period ends exactly.
 */
function expiryDue(
  lostAt: Date,
  evaluation: AccessEvaluation,
  window: RenewalWindow,
  seen: Sighting,
): Date {
  if (!evaluation.lostAt || ms(firstSeen(seen, lostAt)) > ms(lostAt)) {
    const paidEnd = evaluation.timeline.some(
      (segment) => segment.status === 'active' && ms(segment.until) === ms(lostAt),
    );
    return settled(lostAt, seen, window, paidEnd);
  }
  const held = renewalWindows(evaluation.timeline, window).find((w) => ms(w.from) === ms(lostAt));
  return held?.until ?? lostAt;
}

/** Access was announced and nothing grants it any more: `access.expired`, once it has settled. */
function expiryDecision(
  announced: AnnouncedAccess,
  evaluation: AccessEvaluation,
  window: RenewalWindow,
  seen: Sighting,
): TransitionDecision {
  const lostAt = lossMoment(evaluation, seen);
  const due = expiryDue(lostAt, evaluation, window, seen);
  return ms(seen.now) >= ms(due)
    ? decision(announced, AccessEventType.Expired, lostAt, {
        status: 'expired',
        accessUntil: lostAt,
        orgs: announced.orgs,
      })
    : { transition: null, settlesAt: due };
}

/** Access was announced and continues: in grace (once settled), renewed, changed, or the same. */
function continuingDecision(
  announced: AnnouncedAccess,
  evaluation: AccessEvaluation,
  window: RenewalWindow,
  seen: Sighting,
): TransitionDecision {
  const now = seen.now;
  const current = currentAccess(evaluation);
  let settlesAt: Date | null = null;
  if (losingPaidPeriod(announced, evaluation)) {
    const graceSince = evaluation.graceSince ?? now;
    const due = settled(graceSince, seen, window, true);
    if (ms(now) >= ms(due)) {
      return decision(announced, AccessEventType.Grace, graceSince, current);
    }
    settlesAt = due;
    current.status = 'active';
  }
  const grew = ms(current.accessUntil) > ms(announced.accessUntil);
  if (grew || (announced.status === 'grace' && current.status === 'active')) {
    return { ...decision(announced, AccessEventType.Renewed, now, current), settlesAt };
  }
  if (
    ms(current.accessUntil) < ms(announced.accessUntil) ||
    !sameOrgs(current.orgs, announced.orgs)
  ) {
    return { ...decision(announced, AccessEventType.Changed, now, current), settlesAt };
  }
  return { transition: null, settlesAt };
}

/** When the loss still settling was first seen, to keep; null when none is. */
function pendingLossSeen(
  announced: AnnouncedAccess,
  evaluation: AccessEvaluation,
  seen: Sighting,
): Date | null {
  const had = announced.status === 'active' || announced.status === 'grace';
  if (!evaluation.hasAccess && had) {
    return firstSeen(seen, lossMoment(evaluation, seen));
  }
  if (losingPaidPeriod(announced, evaluation)) {
    return firstSeen(seen, evaluation.graceSince ?? seen.now);
  }
  return null;
}

export interface DueTransitions {
  transitions: AccessTransition[];
  announced: AnnouncedAccess;
  /** When to look again for a loss still settling. */
  settlesAt: Date | null;
  /** When the loss still settling (an end, or a grace notice) was first seen (to keep), or null. */
  lossObservedAt: Date | null;
}

/** Every transition due now, in order, and what to keep for a loss still settling. */
export function transitionsDue(
  announced: AnnouncedAccess,
  evaluation: AccessEvaluation,
  now: Date,
  window: RenewalWindow,
  lossObservedAt: Date | null = null,
  /** As for `nextTransition`: the evaluation follows an event applied, not a sweep. */
  news = false,
): DueTransitions {
  const transitions: AccessTransition[] = [];
  let state = announced;
  // Each transition moves `state` onto the evaluation, so the second call finds nothing new;
  // the bound only guards against a rule that would never settle.
  for (let round = 0; round < 3; round++) {
    const { transition, settlesAt } = nextTransition(
      state,
      evaluation,
      now,
      window,
      lossObservedAt,
      news,
    );
    if (!transition) {
      return {
        transitions,
        announced: state,
        settlesAt,
        lossObservedAt: pendingLossSeen(state, evaluation, { at: lossObservedAt, news, now }),
      };
    }
    transitions.push(transition);
    state = transition.next;
  }
  return { transitions, announced: state, settlesAt: null, lossObservedAt: null };
}
