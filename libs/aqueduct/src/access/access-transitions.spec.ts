import { type ProvisioningDates, evaluateAccess } from './access-timeline';
import { type AnnouncedAccess, transitionsDue } from './access-transitions';
import { RenewalWindow } from './renewal-window';

const DAY = 86_400_000;
const MINUTE = 60_000;
const SETTLE = new RenewalWindow(5 * MINUTE);
const T0 = Date.parse('2026-01-01T09:30:00Z');
const day = (n: number, minutes = 0) => new Date(T0 + n * DAY + minutes * MINUTE);
const ORGS = [{ name: 'Acme', users: [{ name: 'Ada', email: 'ada@acme.test' }] }];

const provisioning = (key: string, start: number, end: number, until = end): ProvisioningDates => ({
  key,
  startDate: day(start),
  endDate: day(end),
  accessUntil: day(until),
  invoiceId: null,
  orgs: ORGS,
  paidAt: null,
});

const NONE: AnnouncedAccess = { status: 'none', accessUntil: null, orgs: [] };

/** The transitions a sweep finds at `now`, from `announced` (and a loss first seen at `seen`). */
const due = (
  announced: AnnouncedAccess,
  list: ProvisioningDates[],
  now: Date,
  seen: Date | null = null,
) => transitionsDue(announced, evaluateAccess(list, false, now), now, SETTLE, seen);

/** The same for an event applied at `now` (news: a loss found pending is seen now). */
const learn = (
  announced: AnnouncedAccess,
  list: ProvisioningDates[],
  now: Date,
  seen: Date | null = null,
) => transitionsDue(announced, evaluateAccess(list, false, now), now, SETTLE, seen, true);

describe('transitionsDue', () => {
  const p1 = provisioning('p1', 0, 30, 37);
  const p2 = provisioning('p2', 30, 60, 67);

  it('starts at once', () => {
    const { transitions, announced } = due(NONE, [p1], day(0));
    expect(transitions.map((t) => t.type)).toEqual(['access.started']);
    expect(announced).toEqual({ status: 'active', accessUntil: day(37), orgs: ORGS });
  });

  it('a renewal known before the end: renewed, and never a grace notice', () => {
    const started = due(NONE, [p1], day(0)).announced;
    const renewed = due(started, [p1, p2], day(30));
    expect(renewed.transitions.map((t) => t.type)).toEqual(['access.renewed']);
    expect(due(renewed.announced, [p1, p2], day(35)).transitions).toEqual([]);
  });

  it('the paid period ends: the grace notice waits for the settle time', () => {
    const started = due(NONE, [p1], day(0)).announced;
    const early = due(started, [p1], day(30));
    expect(early.transitions).toEqual([]);
    expect(early).toMatchObject({ settlesAt: day(30, 5), lossObservedAt: day(30) });
    const late = due(started, [p1], day(30, 5), early.lossObservedAt);
    expect(late.transitions.map((t) => [t.type, t.at])).toEqual([['access.grace', day(30)]]);
    expect(late.lossObservedAt).toBeNull();
  });

  it('a new subscription that starts after a gap does not hold back the grace notice', () => {
    const started = due(NONE, [p1], day(0)).announced;
    const later = provisioning('p3', 45, 75, 82);
    const graced = due(started, [p1, later], day(30, 5));
    expect(graced.transitions.map((t) => [t.type, t.at])).toEqual([['access.grace', day(30)]]);
    const ended = due(graced.announced, [p1, later], day(37, 5));
    expect(ended.transitions.map((t) => t.type)).toEqual(['access.expired']);
    expect(due(ended.announced, [p1, later], day(45)).transitions.map((t) => t.type)).toEqual([
      'access.started',
    ]);
  });

  it('a renewal arriving within the settle time cancels the grace notice', () => {
    const started = due(NONE, [p1], day(0)).announced;
    expect(due(started, [p1], day(30, 2)).transitions).toEqual([]);
    const renewed = due(started, [p1, p2], day(30, 3));
    expect(renewed.transitions.map((t) => t.type)).toEqual(['access.renewed']);
    expect(due(renewed.announced, [p1, p2], day(30, 10)).transitions).toEqual([]);
  });

  it('a grace period longer than the settle time ends exactly: expired at its end, with the orgs that had access', () => {
    const started = due(NONE, [p1], day(0)).announced;
    const inGrace = due(started, [p1], day(31)).announced;
    // The sweep finds a loss the timeline held in advance: checks stop granting it at day 37.
    const expired = due(inGrace, [p1], day(37));
    expect(expired.transitions.map((t) => [t.type, t.at])).toEqual([['access.expired', day(37)]]);
    expect(expired.announced).toEqual({ status: 'expired', accessUntil: day(37), orgs: ORGS });
  });

  it('a paid period without grace waits for the settle time (the renewal window checks grant too)', () => {
    const trial = provisioning('trial', 0, 30);
    const started = due(NONE, [trial], day(0)).announced;
    const seen = due(started, [trial], day(30, 1));
    expect(seen).toMatchObject({ transitions: [], settlesAt: day(30, 5), lossObservedAt: day(30) });
    const expired = due(started, [trial], day(30, 5), seen.lossObservedAt);
    expect(expired.transitions.map((t) => [t.type, t.at])).toEqual([['access.expired', day(30)]]);
  });

  it('a grace period shorter than the settle time is stretched to it', () => {
    const short = provisioning('short', 0, 30);
    short.accessUntil = day(30, 2);
    const started = due(NONE, [short], day(0)).announced;
    const seen = due(started, [short], day(30, 3));
    expect(seen).toMatchObject({ settlesAt: day(30, 5) });
  });

  it('an end long past when it arrives: expired once the loss has held the settle time since it was seen', () => {
    const started = due(NONE, [p1], day(0)).announced;
    const seen = learn(started, [p1], day(40));
    expect(seen).toMatchObject({ transitions: [], settlesAt: day(40, 5), lossObservedAt: day(40) });
    const expired = due(started, [p1], day(40, 5), seen.lossObservedAt);
    expect(expired.transitions.map((t) => [t.type, t.at])).toEqual([['access.expired', day(37)]]);
  });

  it('a renewal retried late, its period 1 end first: the end waits from when it was seen, the renewal cancels it', () => {
    const started = due(NONE, [p1], day(0)).announced;
    // Both events failed at day 30 and are retried an hour later, the end a minute first.
    const ended = learn(started, [p1], day(30, 60));
    expect(ended).toMatchObject({ transitions: [], settlesAt: day(30, 65) });
    const renewed = learn(started, [p1, p2], day(30, 61), ended.lossObservedAt);
    expect(renewed.transitions.map((t) => t.type)).toEqual(['access.renewed']);
    expect(renewed.lossObservedAt).toBeNull();
  });

  it('a window withdrawn (cancelled before it began) expires once the loss has settled since it was seen', () => {
    const started = due(NONE, [p1], day(0)).announced;
    const withdrawn = provisioning('p1', 0, 0);
    const seen = transitionsDue(
      started,
      evaluateAccess([withdrawn], false, day(0, 1)),
      day(0, 1),
      SETTLE,
    );
    expect(seen).toMatchObject({
      transitions: [],
      settlesAt: day(0, 6),
      lossObservedAt: day(0, 1),
    });
    // Later evaluations keep the first sighting, so the deadline does not move with them.
    const later = transitionsDue(
      started,
      evaluateAccess([withdrawn], false, day(0, 4)),
      day(0, 4),
      SETTLE,
      seen.lossObservedAt,
    );
    expect(later).toMatchObject({ settlesAt: day(0, 6), lossObservedAt: day(0, 1) });
    const expired = transitionsDue(
      started,
      evaluateAccess([withdrawn], false, day(40)),
      day(40),
      SETTLE,
      seen.lossObservedAt,
    );
    expect(expired.transitions.map((t) => [t.type, t.at])).toEqual([['access.expired', day(0, 1)]]);
    expect(expired.lossObservedAt).toBeNull();
  });

  it('never anything for what never gave access, nor twice for the same state', () => {
    expect(due(NONE, [p1], day(50)).transitions).toEqual([]);
    const started = due(NONE, [p1], day(0)).announced;
    expect(due(started, [p1], day(1)).transitions).toEqual([]);
  });

  it('a cancellation that shortens access, and users that change, are changes', () => {
    const started = due(NONE, [p1], day(0)).announced;
    const cancelled = provisioning('p1', 0, 10, 13);
    expect(due(started, [cancelled], day(10)).transitions.map((t) => t.type)).toEqual([
      'access.changed',
    ]);
    const more = {
      ...p1,
      orgs: [{ name: 'Acme', users: [...ORGS[0].users, { name: 'Bo', email: 'bo@acme.test' }] }],
    };
    expect(due(started, [more], day(1)).transitions.map((t) => t.type)).toEqual(['access.changed']);
  });
});
