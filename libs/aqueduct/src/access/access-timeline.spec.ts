import {
  type ProvisioningDates,
  accessAt,
  accessTimeline,
  accessWindow,
  evaluateAccess,
  mergeOrgs,
  withRenewalWindow,
} from './access-timeline';
import { RenewalWindow } from './renewal-window';

const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T09:30:00Z');
const day = (n: number) => new Date(T0 + n * DAY);

const provisioning = (
  key: string,
  start: number,
  end: number,
  accessUntil = end,
  extra: Partial<ProvisioningDates> = {},
): ProvisioningDates => ({
  key,
  startDate: day(start),
  endDate: day(end),
  accessUntil: day(accessUntil),
  invoiceId: `inv_${key}`,
  orgs: [{ name: 'Acme', users: [{ name: 'Ada', email: 'ada@acme.test' }] }],
  paidAt: null,
  ...extra,
});

const segments = (list: ProvisioningDates[], requirePayment = false) =>
  accessTimeline(list.map((p) => accessWindow(p, requirePayment)).filter((w) => w !== null)).map(
    (s) => [(s.from.getTime() - T0) / DAY, (s.until.getTime() - T0) / DAY, s.status],
  );

describe('accessTimeline', () => {
  it('a renewal on time is one paid stretch, then the last grace', () => {
    expect(segments([provisioning('p1', 0, 30, 37), provisioning('p2', 30, 60, 67)])).toEqual([
      [0, 60, 'active'],
      [60, 67, 'grace'],
    ]);
  });

  it('a renewal during the grace period: paid, grace, paid again, grace', () => {
    expect(segments([provisioning('p1', 0, 30, 37), provisioning('p2', 33, 63, 70)])).toEqual([
      [0, 30, 'active'],
      [30, 33, 'grace'],
      [33, 63, 'active'],
      [63, 70, 'grace'],
    ]);
  });

  it('a gap stays a gap; a window without grace has none', () => {
    expect(segments([provisioning('p1', 0, 30), provisioning('p2', 50, 80, 85)])).toEqual([
      [0, 30, 'active'],
      [50, 80, 'active'],
      [80, 85, 'grace'],
    ]);
  });

  it('an end before the start gives nothing; a grace before the end never shortens access', () => {
    expect(segments([provisioning('p1', 10, 5)])).toEqual([]);
    expect(accessWindow(provisioning('p1', 0, 30, 20), false)?.until).toEqual(day(30));
  });

  it('with payment required: nothing until paid, then from the payment (not before the start)', () => {
    const unpaid = provisioning('p1', 0, 30, 37);
    expect(segments([unpaid], true)).toEqual([]);
    expect(segments([{ ...unpaid, paidAt: day(5) }], true)).toEqual([
      [5, 30, 'active'],
      [30, 37, 'grace'],
    ]);
    expect(segments([{ ...unpaid, paidAt: day(-3) }], true)[0][0]).toBe(0);
    expect(segments([{ ...unpaid, invoiceId: null }], true)).toEqual([
      [0, 30, 'active'],
      [30, 37, 'grace'],
    ]);
  });
});

describe('accessAt', () => {
  const timeline = accessTimeline(
    [provisioning('p1', 0, 30, 37), provisioning('p2', 50, 80, 85)].map((p) =>
      accessWindow(p, false)!,
    ),
  );

  it('inside a span: its bounds, its paid end, the next change', () => {
    expect(accessAt(timeline, day(10))).toMatchObject({
      status: 'active',
      hasAccess: true,
      since: day(0),
      accessUntil: day(37),
      paidUntil: day(30),
      changesAt: day(30),
      renewalAhead: true,
    });
    expect(accessAt(timeline, day(31))).toMatchObject({ status: 'grace', graceSince: day(30) });
  });

  it('in the gap: scheduled, with when access was lost; after everything: expired', () => {
    expect(accessAt(timeline, day(40))).toMatchObject({
      status: 'scheduled',
      hasAccess: false,
      lostAt: day(37),
      changesAt: day(50),
    });
    expect(accessAt(timeline, day(90))).toMatchObject({
      status: 'expired',
      lostAt: day(85),
      changesAt: null,
      renewalAhead: false,
    });
    expect(accessAt([], day(0))).toMatchObject({ status: 'expired', lostAt: null });
  });

  it('the bounds are [from, until): access at the start, none at the end', () => {
    expect(accessAt(timeline, day(0)).hasAccess).toBe(true);
    expect(accessAt(timeline, day(37)).hasAccess).toBe(false);
  });
});

describe('withRenewalWindow', () => {
  const timelineOf = (list: ProvisioningDates[]) =>
    accessTimeline(list.map((p) => accessWindow(p, false)!));
  const bridged = (list: ProvisioningDates[], windowDays: number) =>
    withRenewalWindow(timelineOf(list), new RenewalWindow(windowDays * DAY)).map((s) => [
      (s.from.getTime() - T0) / DAY,
      (s.until.getTime() - T0) / DAY,
      s.status,
    ]);

  it('a paid period with no grace after it keeps access for the window, as grace', () => {
    expect(bridged([provisioning('p1', 0, 30)], 1)).toEqual([
      [0, 30, 'active'],
      [30, 31, 'grace'],
    ]);
    const state = accessAt(
      withRenewalWindow(timelineOf([provisioning('p1', 0, 30)]), new RenewalWindow(DAY)),
      day(30),
    );
    expect(state).toMatchObject({ hasAccess: true, status: 'grace', paidUntil: day(30) });
  });

  it('a longer grace period ends exactly; a shorter one is stretched to the window; a paid stretch inside a span is no span end', () => {
    expect(bridged([provisioning('p1', 0, 30, 37), provisioning('p2', 33, 63, 63)], 1)).toEqual([
      [0, 30, 'active'],
      [30, 33, 'grace'],
      [33, 63, 'active'],
      [63, 64, 'grace'],
    ]);
    expect(bridged([provisioning('p1', 0, 30, 32)], 1)).toEqual([
      [0, 30, 'active'],
      [30, 32, 'grace'],
    ]);
    expect(bridged([provisioning('p1', 0, 30, 30.25)], 1)).toEqual([
      [0, 30, 'active'],
      [30, 30.25, 'grace'],
      [30.25, 31, 'grace'],
    ]);
  });

  it('the window closes where the next span starts, and is nothing at 0', () => {
    expect(bridged([provisioning('p1', 0, 30), provisioning('p2', 30.5, 60, 67)], 1)).toEqual([
      [0, 30, 'active'],
      [30, 30.5, 'grace'],
      [30.5, 60, 'active'],
      [60, 67, 'grace'],
    ]);
    const timeline = timelineOf([provisioning('p1', 0, 30)]);
    expect(withRenewalWindow(timeline, new RenewalWindow(0))).toBe(timeline);
  });
});

describe('mergeOrgs', () => {
  const window = (key: string, start: number, orgs: ProvisioningDates['orgs']) =>
    accessWindow({ ...provisioning(key, start, start + 30), orgs }, false)!;

  it('merges orgs by name and users by email, the newest period first', () => {
    const merged = mergeOrgs([
      window('p1', 0, [
        {
          name: 'Acme',
          users: [
            { name: 'Ada L', email: 'ADA@acme.test' },
            { name: 'Bob', email: 'bob@acme.test' },
          ],
        },
      ]),
      window('p2', 30, [{ name: 'Acme', users: [{ name: 'Ada', email: 'ada@acme.test' }] }]),
    ]);
    expect(merged).toEqual([
      {
        name: 'Acme',
        users: [
          { name: 'Ada', email: 'ada@acme.test' },
          { name: 'Bob', email: 'bob@acme.test' },
        ],
      },
    ]);
  });

  it('a renewal repeating the same orgs yields exactly those orgs', () => {
    const orgs = provisioning('x', 0, 1).orgs;
    expect(mergeOrgs([window('p1', 0, orgs), window('p2', 30, orgs)])).toEqual(orgs);
  });
});

describe('evaluateAccess', () => {
  it('orgs of the windows granting now, the next moment anything changes, payment awaited', () => {
    const evaluation = evaluateAccess(
      [
        provisioning('p1', 0, 30, 37),
        provisioning('p2', 30, 60, 67, {
          orgs: [{ name: 'Beta', users: [] }],
        }),
      ],
      false,
      day(32),
    );
    expect(evaluation.granting).toEqual(['p1', 'p2']);
    expect(evaluation.orgs.map((o) => o.name)).toEqual(['Beta', 'Acme']);
    expect(evaluation.nextChangeAt).toEqual(day(37));
    expect(evaluation.accessUntil).toEqual(day(67));
    const unpaid = evaluateAccess([provisioning('p1', 0, 30, 37)], true, day(1));
    expect(unpaid).toMatchObject({ status: 'scheduled', hasAccess: false, awaitingPayment: true });
  });
});
