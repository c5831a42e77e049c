import { RenewalWindow } from './renewal-window';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const SETTLE = 75 * MINUTE;
const END = Date.parse('2026-03-01T00:00:00Z');
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
});
