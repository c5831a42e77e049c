import { truncate, wellFormed } from './well-formed';

describe('wellFormed', () => {
  it('replaces lone surrogates and keeps pairs', () => {
    expect(wellFormed('a\ud800b\udc00c😀')).toBe('a\ufffdb\ufffdc😀');
  });
});

describe('truncate', () => {
  it('never ends inside a surrogate pair', () => {
    expect(truncate('a😀', 2)).toBe('a');
    expect(truncate('a😀', 3)).toBe('a😀');
    expect(truncate('abc', 2)).toBe('ab');
  });
});
