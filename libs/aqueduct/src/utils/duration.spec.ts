import { DAY_MS, parseDuration } from './duration';

describe('parseDuration', () => {
  it('reads days, hours and minutes', () => {
    expect(parseDuration('30d')).toBe(30 * DAY_MS);
    expect(parseDuration('12h')).toBe(12 * 3_600_000);
    expect(parseDuration(' 90m ')).toBe(90 * 60_000);
  });

  it('refuses a bare number, another unit, a fraction, zero, a sign or an overflow', () => {
    for (const text of [
      '30',
      '30s',
      '1.5d',
      '0d',
      '-1d',
      '+1d',
      'd',
      '',
      '30 days',
      '9'.repeat(20) + 'd',
    ]) {
      expect(parseDuration(text)).toBeUndefined();
    }
  });
});
