import { anyMatch, checkTimestamp, digestsEqual, readHeader, sha256 } from './verification.utils';
import { WebhookVerificationError } from './webhook-verification.error';

describe('digestsEqual', () => {
  it.each([
    ['abc', 'abc', true],
    ['', '', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['', 'a', false],
  ])('%p vs %p → %p', (a, b, expected) => {
    expect(digestsEqual(Buffer.from(a), Buffer.from(b))).toBe(expected);
  });
});

describe('sha256', () => {
  it('gives 32 bytes whatever the length, equal for equal values', () => {
    expect(sha256('a')).toHaveLength(32);
    expect(sha256('a'.repeat(1000))).toHaveLength(32);
    expect(sha256(Buffer.from('abc')).equals(sha256('abc'))).toBe(true);
  });
});

describe('anyMatch', () => {
  const buffers = (...values: string[]) => values.map((value) => Buffer.from(value));

  it('is true when any candidate equals any expected value', () => {
    expect(anyMatch(buffers('x', 'b'), buffers('a', 'b'))).toBe(true);
    expect(anyMatch(buffers('x', 'y'), buffers('a', 'b'))).toBe(false);
    expect(anyMatch([], buffers('a'))).toBe(false);
    expect(anyMatch(buffers('a'), [])).toBe(false);
  });
});

describe('checkTimestamp', () => {
  const NOW_S = 1_700_000_000;
  const now = NOW_S * 1000;

  it('returns the timestamp as a Date', () => {
    expect(checkTimestamp(String(NOW_S), 300, now)).toEqual(new Date(now));
  });

  it.each([-300, 300])('accepts a skew of exactly the tolerance (%is)', (offset) => {
    expect(checkTimestamp(String(NOW_S + offset), 300, now)).toEqual(
      new Date((NOW_S + offset) * 1000),
    );
  });

  it.each([-301, 301])('rejects a skew one second past the tolerance (%is)', (offset) => {
    expect(() => checkTimestamp(String(NOW_S + offset), 300, now)).toThrow(
      'timestamp is 301s away from now, more than the 300s tolerance',
    );
  });

  it('compares whole seconds of now', () => {
    expect(() => checkTimestamp(String(NOW_S - 300), 300, now + 999)).not.toThrow();
    expect(() => checkTimestamp(String(NOW_S - 300), 300, now + 1000)).toThrow(/tolerance/);
  });

  it('with a tolerance of 0, accepts only the current second', () => {
    expect(() => checkTimestamp(String(NOW_S), 0, now)).not.toThrow();
    expect(() => checkTimestamp(String(NOW_S + 1), 0, now)).toThrow(/0s tolerance/);
  });

  it.each([
    '',
    'abc',
    '-1',
    '1.5',
    '1e9',
    ' 1700000000',
    '0x1F',
    '12345678901234',
    '+1700000000',
    '2026-12-02',
    '2026-12-02T10:00:00',
    'Wed, 02 Dec 2026 10:00:00 GMT',
  ])('rejects %p as no timestamp it knows', (value) => {
    expect(() => checkTimestamp(value, 1e12, now)).toThrow(WebhookVerificationError);
    expect(() => checkTimestamp(value, 1e12, now)).toThrow(
      'not a Unix time (seconds or milliseconds) nor an ISO 8601 time',
    );
  });

  it('reads Unix milliseconds and ISO 8601 with a zone too (the sender signs them as sent)', () => {
    expect(checkTimestamp(String(now), 300, now).getTime()).toBe(now);
    const iso = new Date(now).toISOString();
    expect(checkTimestamp(iso, 300, now).getTime()).toBe(now);
    expect(checkTimestamp(iso.replace('Z', '+00:00'), 300, now).getTime()).toBe(now);
    expect(() => checkTimestamp(String(now - 301_000), 300, now)).toThrow(/301s away/);
    expect(() => checkTimestamp(new Date(now + 400_000).toISOString(), 300, now)).toThrow(
      /400s away/,
    );
  });
});

describe('readHeader', () => {
  it('reads a lower-cased header by a name in any case', () => {
    expect(readHeader({ 'webhook-id': 'msg_1' }, 'Webhook-ID')).toBe('msg_1');
  });

  it('joins repeated headers (array values) with ", "', () => {
    expect(readHeader({ 'x-sig': ['a', 'b'] }, 'x-sig')).toBe('a, b');
  });

  it('returns the first non-empty value among the names, trimmed', () => {
    const headers = { 'webhook-id': ' ', 'svix-id': '  msg_2 ' };
    expect(readHeader(headers, 'webhook-id', 'svix-id')).toBe('msg_2');
  });

  it.each([{}, { 'x-sig': '' }, { 'x-sig': [] }])('returns undefined for %p', (headers) => {
    expect(readHeader(headers, 'x-sig')).toBeUndefined();
  });
});
