import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { ConsoleCsrf } from './console-csrf';

const csrf = (options: Partial<ResolvedAqueductOptions>) =>
  new ConsoleCsrf({ secrets: [], ...options } as ResolvedAqueductOptions);

describe('ConsoleCsrf', () => {
  const one = csrf({ secrets: ['webhook-secret'] });

  it('accepts its own token, in the cookie and the form alike', () => {
    const token = one.issue();
    expect(one.isGenuine(token)).toBe(true);
    expect(one.matches(token, token)).toBe(true);
  });

  it('accepts a token from another instance with the same configuration', () => {
    expect(csrf({ secrets: ['webhook-secret'] }).isGenuine(one.issue())).toBe(true);
  });

  it('refuses forged, altered, mismatched or missing tokens', () => {
    const token = one.issue();
    const [nonce] = token.split('.');
    expect(one.isGenuine(`${nonce}.forged`)).toBe(false);
    expect(one.isGenuine(`${nonce}x.${token.split('.')[1]}`)).toBe(false);
    expect(one.isGenuine(`${token}.extra`)).toBe(false);
    expect(one.isGenuine(undefined)).toBe(false);
    expect(one.matches(token, one.issue())).toBe(false);
    expect(one.matches(token, undefined)).toBe(false);
    expect(one.matches(undefined, token)).toBe(false);
    expect(csrf({ secrets: ['another-secret'] }).isGenuine(token)).toBe(false);
  });

  it('prefers console.csrfSecret over the webhook secret', () => {
    const csrfSecret = 'c'.repeat(32);
    const keyed = csrf({ secrets: ['webhook-secret'], console: { csrfSecret } as never });
    expect(one.isGenuine(keyed.issue())).toBe(false);
    expect(csrf({ console: { csrfSecret } as never }).isGenuine(keyed.issue())).toBe(true);
  });
});
