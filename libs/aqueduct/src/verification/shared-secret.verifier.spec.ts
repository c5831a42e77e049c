import type { IncomingHttpHeaders } from 'node:http';
import type { SharedSecretVerification } from '../options/aqueduct-options.interface';
import { SharedSecretVerifier } from './shared-secret.verifier';
import { reasonOf } from './verification.spec-helpers';

const SECRET = 'sk_live_0123456789abcdef';
const DEFAULT: SharedSecretVerification = { scheme: 'shared-secret' };

function verify(headers: IncomingHttpHeaders, options = DEFAULT, secrets = [SECRET]) {
  return new SharedSecretVerifier(secrets, options).verify({ rawBody: Buffer.from('{}'), headers });
}

describe('SharedSecretVerifier', () => {
  it.each([`Bearer ${SECRET}`, `bearer ${SECRET}`, `Api-Key ${SECRET}`, `Token  ${SECRET}`])(
    'accepts Authorization: %s',
    (authorization) => {
      expect(verify({ authorization })).toEqual({ deliveryId: undefined, deliveryIdSigned: false });
    },
  );

  it('accepts the bare secret in a configured header (name matched case-insensitively)', () => {
    const options: SharedSecretVerification = { scheme: 'shared-secret', header: 'X-Aqueduct-Key' };
    expect(verify({ 'x-aqueduct-key': SECRET }, options)).toEqual({
      deliveryId: undefined,
      deliveryIdSigned: false,
    });
    expect(() => verify({ authorization: `Bearer ${SECRET}` }, options)).toThrow(
      'missing header: x-aqueduct-key',
    );
  });

  it('accepts either secret during a rotation', () => {
    const secrets = ['old-secret', 'new-secret'];
    for (const secret of secrets) {
      expect(verify({ authorization: `Bearer ${secret}` }, DEFAULT, secrets)).toBeDefined();
    }
  });

  it('returns the deliveryIdHeader value as deliveryId', () => {
    const options: SharedSecretVerification = { ...DEFAULT, deliveryIdHeader: 'X-Delivery-Id' };
    const headers = { authorization: `Bearer ${SECRET}`, 'x-delivery-id': 'dlv_1' };
    expect(verify(headers, options)).toEqual({ deliveryId: 'dlv_1', deliveryIdSigned: false });
  });

  it.each([
    ['a wrong secret', 'Bearer sk_live_wrong'],
    ['a prefix of the secret', `Bearer ${SECRET.slice(0, -1)}`],
    ['the secret with an extra character', `Bearer ${SECRET}x`],
    ['the scheme alone', 'Bearer'],
    ['another scheme', `Basic ${SECRET}`],
  ])('rejects %s', (_, authorization) => {
    expect(reasonOf(() => verify({ authorization }))).toBe(
      'authorization does not match any configured secret',
    );
  });

  it.each([{}, { authorization: '' }, { authorization: '   ' }])(
    'rejects a missing or empty header (%p), naming it',
    (headers) => {
      expect(reasonOf(() => verify(headers))).toBe('missing header: authorization');
    },
  );

  it('never puts the secret or the offered value in the reason', () => {
    const reason = reasonOf(() => verify({ authorization: 'Bearer offered-value' }));
    expect(reason).not.toContain(SECRET);
    expect(reason).not.toContain('offered-value');
  });
});
