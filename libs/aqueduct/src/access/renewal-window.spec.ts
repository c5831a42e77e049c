import { RenewalWindow } from './renewal-window';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const SETTLE = 75 * MINUTE;
const END = Date.parse('2026-03-01T09:30:00Z');
const gap = (fromHours: number, untilHours: number) => [
  END + fromHours * HOUR,
  END + untilHours * HOUR,
];
const closes = (settleMs: number, ...gaps: number[][]) =>
  (new RenewalWindow(settleMs, gaps.flat()).closesAt(END) - END) / MINUTE;

describe('RenewalWindow', () => {
  it('is settleMs without a gap, whatever settleMs is', () => {
    expect(closes(SETTLE)).toBe(75);
    expect(closes(10 * MINUTE)).toBe(10);
    expect(closes(8 * HOUR)).toBe(480);
  });

  it('is off with settleMs 0, gaps included', () => {
    expect(closes(0, gap(-1, 3))).toBe(0);
  });

  it('lasts until the first attempt after those that fell into a gap, plus the slack', () => {
    // Down at the end and at the first retry: the start comes with the second, 7 h after the end.
    expect(closes(SETTLE, gap(-0.5, 2))).toBe(7 * 60 + 15);
    // Up at the end, down at the first retry only: the end's attempt may have been refused unseen.
    expect(closes(SETTLE, gap(0.9, 1.1))).toBe(7 * 60 + 15);
    // Down at the end only: the first retry, which settleMs covers already.
    expect(closes(SETTLE, gap(-0.5, 0.5))).toBe(75);
    // A wait shorter than the first retry is stretched to it when the end's attempt was refused.
    expect(closes(10 * MINUTE, gap(-0.5, 0.5))).toBe(75);
    // Down at the end, up at the first retry, down at the second: the first retry got through.
    expect(closes(10 * MINUTE, gap(-0.5, 0.5), gap(6.9, 7.5))).toBe(75);
  });

  it('counts an attempt whose slack overlaps a gap as refused', () => {
    expect(closes(SETTLE, gap(1.2, 2))).toBe(7 * 60 + 15);
    expect(closes(SETTLE, gap(1.3, 2))).toBe(75);
  });

  it('ends at the last attempt when every one fell into a gap', () => {
    expect(closes(SETTLE, gap(-1, 50))).toBe(43 * 60 + 15);
  });

  it('has no window after a span without a paid period', () => {
    expect(new RenewalWindow(SETTLE).closesAt(Number.NEGATIVE_INFINITY)).toBe(
      Number.NEGATIVE_INFINITY,
    );
  });

  describe('after a paid end at midnight (UTC): a day, whose end Aqueduct sees in its own zone', () => {
    const MIDNIGHT = Date.parse('2026-02-01T00:00:00Z');
    const at = (settleMs: number, gaps: number[] = []) =>
      (new RenewalWindow(settleMs, gaps).closesAt(MIDNIGHT) - MIDNIGHT) / MINUTE;

    it('waits 12 hours more: the renewal fired at midnight in UTC-12 comes then', () => {
      expect(at(SETTLE)).toBe(12 * 60 + 75);
      expect(at(0)).toBe(0); // off is off
    });

    it('counts the gaps that the attempts of a start fired as late as that fell into', () => {
      // Down 10:00–11:00 UTC: a start fired at 10:00 and its retry at 10:59 were refused; the next
      // retry comes at 17:00.
      expect(at(SETTLE, [MIDNIGHT + 10 * HOUR, MIDNIGHT + 11 * HOUR])).toBeCloseTo(17 * 60 + 15);
      // Down 11:30–13:00: a start fired at 12:00 (UTC-12's midnight) and its first retry were
      // refused; the second retry, 7 hours after it, is what the window waits for.
      expect(at(SETTLE, [MIDNIGHT + 11.5 * HOUR, MIDNIGHT + 13 * HOUR])).toBeCloseTo(
        (12 + 7) * 60 + 15,
      );
      // Down 0:00–0:30 only: whenever it fired, the start or its first retry found the receiver up.
      expect(at(SETTLE, [MIDNIGHT, MIDNIGHT + 0.5 * HOUR])).toBe(12 * 60 + 75);
    });

    it('is not applied to a loss that is not a paid end (a grace period ending at midnight)', () => {
      expect((new RenewalWindow(SETTLE).closesAfter(MIDNIGHT) - MIDNIGHT) / MINUTE).toBe(75);
    });
  });
});
