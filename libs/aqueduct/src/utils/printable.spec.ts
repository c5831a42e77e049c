import { printable, printableJson, printableLines } from './printable';

describe('printable', () => {
  it('shows every C0, DEL and C1 character as a visible \\uXXXX escape', () => {
    expect(printable('red\u001b[31m csi\u009b bell\u0007 del\u007f nul\u0000')).toBe(
      'red\\u001b[31m csi\\u009b bell\\u0007 del\\u007f nul\\u0000',
    );
    expect(printable('two\nlines\ttab\r')).toBe('two\\u000alines\\u0009tab\\u000d');
  });

  it('leaves everything else as it is, and escaping twice changes nothing', () => {
    const text = 'owner_42 é ü 日本 😀 \u00a0nbsp';
    expect(printable(text)).toBe(text);
    expect(printable(printable('\u001b\u009b'))).toBe(printable('\u001b\u009b'));
  });

  it('printableLines keeps newlines only', () => {
    expect(printableLines('a\u001b\nb\t\u0085')).toBe('a\\u001b\nb\\u0009\\u0085');
  });

  it('printableJson is valid JSON that parses back to the value, without raw DEL or C1', () => {
    const value = { type: 'x\u001b[31m\u009b\u007f', n: 1, list: ['\u0085\n'] };
    const text = printableJson(value, 2);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(JSON.parse(text)).toEqual(value);
    expect(printableJson(undefined)).toBe('null');
  });
});
