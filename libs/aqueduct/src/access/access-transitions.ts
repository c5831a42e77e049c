import { isDeepStrictEqual } from 'node:util';
import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import { AccessEventType, type AccessEventTypeName } from '../events/access-event-types';
import type { AccessEvaluation } from './access-timeline.interfaces';

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
 * The two losses (`access.grace`, `access.expired`) are announced only once they have held for
 * `settleMs` past the moment they happened. Aqueduct fires period 2's start and period 1's end at
 * the same moment, in either order: the wait lets a renewal that arrives second cancel the loss,
 * so a renewing customer is never deprovisioned nor told that anything ended. Access checks are
 * not delayed: they follow the dates exactly.
 */
export function nextTransition(
  announced: AnnouncedAccess,
  evaluation: AccessEvaluation,
  now: Date,
  settleMs: number,
  /**
   * When the ledger first saw this loss. Used when the timeline cannot date it: a window that was
   * withdrawn (a provisioning cancelled before it began) left no past access to end.
   */
  lossObservedAt: Date | null = null,
): TransitionDecision {
  const had = announced.status === 'active' || announced.status === 'grace';
  if (!evaluation.hasAccess) {
    return had
      ? expiryDecision(announced, evaluation, now, settleMs, lossObservedAt)
      : { transition: null, settlesAt: null };
  }
  if (!had) {
    const current = currentAccess(evaluation);
    return decision(announced, AccessEventType.Started, evaluation.since ?? now, current);
  }
  return continuingDecision(announced, evaluation, now, settleMs);
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

/** In grace with a renewal already known, the customer is renewed: nothing is ending. */
function inGrace(evaluation: AccessEvaluation): boolean {
  return evaluation.status === 'grace' && !evaluation.renewalAhead;
}

/** What an announcement would publish of the access the evaluation gives. */
function currentAccess(evaluation: AccessEvaluation): AnnouncedAccess {
  return {
    status: inGrace(evaluation) ? 'grace' : 'active',
    accessUntil: evaluation.accessUntil,
    orgs: evaluation.orgs,
  };
}

/** Access was announced and nothing grants it any more: `access.expired`, once it has settled. */
function expiryDecision(
  announced: AnnouncedAccess,
  evaluation: AccessEvaluation,
  now: Date,
  settleMs: number,
  lossObservedAt: Date | null,
): TransitionDecision {
  const lostAt = evaluation.lostAt ?? lossObservedAt ?? now;
  const due = new Date(lostAt.getTime() + settleMs);
  return ms(now) >= ms(due)
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
  now: Date,
  settleMs: number,
): TransitionDecision {
  const current = currentAccess(evaluation);
  let settlesAt: Date | null = null;
  if (inGrace(evaluation) && announced.status === 'active') {
    const graceSince = evaluation.graceSince ?? now;
    const due = new Date(graceSince.getTime() + settleMs);
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
    !isDeepStrictEqual(current.orgs, announced.orgs)
  ) {
    return { ...decision(announced, AccessEventType.Changed, now, current), settlesAt };
  }
  return { transition: null, settlesAt };
}

export interface DueTransitions {
  transitions: AccessTransition[];
  announced: AnnouncedAccess;
  /** When to look again for a loss still settling. */
  settlesAt: Date | null;
  /** When the loss still settling was first seen (to keep), or null when none is. */
  lossObservedAt: Date | null;
}

/** Every transition due now, in order, and what to keep for a loss still settling. */
export function transitionsDue(
  announced: AnnouncedAccess,
  evaluation: AccessEvaluation,
  now: Date,
  settleMs: number,
  lossObservedAt: Date | null = null,
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
      settleMs,
      lossObservedAt,
    );
    if (!transition) {
      const losing =
        !evaluation.hasAccess && (state.status === 'active' || state.status === 'grace');
      return {
        transitions,
        announced: state,
        settlesAt,
        lossObservedAt: losing ? (lossObservedAt ?? now) : null,
      };
    }
    transitions.push(transition);
    state = transition.next;
  }
  return { transitions, announced: state, settlesAt: null, lossObservedAt: null };
}
