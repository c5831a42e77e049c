import { execFileSync } from 'node:child_process';
import { toDate, toEndDate } from './date.transform';

/** `toDate(value)` in a Node process whose zone is `zone` (Jest's workers keep the one they started in). */
function toDateIn(zone: string, value: string): string {
  const script = `process.stdout.write(require(${JSON.stringify(require.resolve('./date.transform'))}).toDate(${JSON.stringify(value)}).toISOString())`;
  return execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
    env: { ...process.env, TZ: zone },
    encoding: 'utf8',
  });
}

describe('toDate', () => {
  it('reads a date and time without an offset as UTC, whatever the server zone', () => {
    expect(toDateIn('America/New_York', '2026-03-01T12:00:00')).toBe('2026-03-01T12:00:00.000Z');
    expect(toDateIn('Asia/Kolkata', '2026-03-01 12:00:00.250')).toBe('2026-03-01T12:00:00.250Z');
    expect((toDate('2026-03-01T12:00') as Date).toISOString()).toBe('2026-03-01T12:00:00.000Z');
  });

  it('keeps the offset it is given, and reads a date alone as UTC', () => {
    expect(toDateIn('America/New_York', '2026-03-01T12:00:00+02:00')).toBe(
      '2026-03-01T10:00:00.000Z',
    );
    expect(toDateIn('America/New_York', '2026-03-01')).toBe('2026-03-01T00:00:00.000Z');
  });

  it('reads a looser date text without a zone as UTC, and keeps a zone it names', () => {
    for (const zone of ['America/New_York', 'Asia/Tokyo']) {
      expect(toDateIn(zone, '12/31/2026')).toBe('2026-12-31T00:00:00.000Z');
      expect(toDateIn(zone, 'December 31, 2026 10:00')).toBe('2026-12-31T10:00:00.000Z');
      expect(toDateIn(zone, '12/31/2026 11:59 PM')).toBe('2026-12-31T23:59:00.000Z');
      expect(toDateIn(zone, 'Thu, 31 Dec 2026 10:00:00 GMT')).toBe('2026-12-31T10:00:00.000Z');
      expect(toDateIn(zone, 'Thu Dec 31 2026 10:00:00 GMT+0100 (CET)')).toBe(
        '2026-12-31T09:00:00.000Z',
      );
      expect(toDateIn(zone, 'Dec 31 2026 10:00 -0500')).toBe('2026-12-31T15:00:00.000Z');
      expect(toDateIn(zone, '2026/12/31 10:00 EST')).toBe('2026-12-31T15:00:00.000Z');
    }
  });

  it('reads epoch seconds and milliseconds, and leaves what is not a date as it is', () => {
    expect((toDate(1_772_366_400) as Date).toISOString()).toBe('2026-03-01T12:00:00.000Z');
    expect((toDate(1_772_366_400_000) as Date).toISOString()).toBe('2026-03-01T12:00:00.000Z');
    expect(toDate('soon')).toBe('soon');
  });
});

describe('toEndDate', () => {
  it('reads a date alone as the end of that day (the next midnight, UTC), anything else as toDate', () => {
    expect((toEndDate('2026-01-31') as Date).toISOString()).toBe('2026-02-01T00:00:00.000Z');
    expect((toEndDate(' 2026-02-28 ') as Date).toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect((toEndDate('2026-01-31T00:00:00Z') as Date).toISOString()).toBe(
      '2026-01-31T00:00:00.000Z',
    );
    expect((toEndDate('Jan 31, 2026') as Date).toISOString()).toBe('2026-02-01T00:00:00.000Z');
    expect((toEndDate('1/31/2026') as Date).toISOString()).toBe('2026-02-01T00:00:00.000Z');
    expect((toEndDate('Jan 31, 2026 00:00 GMT') as Date).toISOString()).toBe(
      '2026-01-31T00:00:00.000Z',
    );
    expect((toEndDate(1_772_366_400) as Date).toISOString()).toBe('2026-03-01T12:00:00.000Z');
    expect(toEndDate('soon')).toBe('soon');
    expect(toEndDate(null)).toBe(null);
  });
});
