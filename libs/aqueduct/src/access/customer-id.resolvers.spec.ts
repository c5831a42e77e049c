import { customerIdFrom } from './customer-id.resolvers';

describe('customerIdFrom', () => {
  it('reads the user, a route parameter, a header', async () => {
    expect(await customerIdFrom.user()({ user: { customerId: 'owner_1' } })).toBe('owner_1');
    expect(await customerIdFrom.user('billingId')({ user: { billingId: 'owner_2' } })).toBe(
      'owner_2',
    );
    expect(await customerIdFrom.user()({})).toBeUndefined();
    expect(await customerIdFrom.param('tenant')({ params: { tenant: 'owner_3' } })).toBe('owner_3');
    expect(
      await customerIdFrom.header('X-Customer-Id')({ headers: { 'x-customer-id': 'owner_4' } }),
    ).toBe('owner_4');
    // A repeated header (an array) or an empty one names nobody.
    expect(
      await customerIdFrom.header('x-customer-id')({ headers: { 'x-customer-id': ['a', 'b'] } }),
    ).toBeUndefined();
    expect(
      await customerIdFrom.header('x-customer-id')({ headers: { 'x-customer-id': '' } }),
    ).toBeUndefined();
  });

  it('maps one sub-domain label under the base domain, and nothing else', async () => {
    const tenants: Record<string, string> = { acme: 'owner_acme' };
    const resolve = customerIdFrom.subdomain('app.example.com', (s) => tenants[s]);
    expect(await resolve({ hostname: 'acme.app.example.com' })).toBe('owner_acme');
    expect(await resolve({ headers: { host: 'ACME.app.example.com:8443' } })).toBe('owner_acme');
    expect(await resolve({ hostname: 'other.app.example.com' })).toBeUndefined();
    expect(await resolve({ hostname: 'app.example.com' })).toBeUndefined();
    expect(await resolve({ hostname: 'a.acme.app.example.com' })).toBeUndefined();
    expect(await resolve({ hostname: 'acme.app.example.com.evil.test' })).toBeUndefined();
    expect(await customerIdFrom.subdomain('app.test')({ hostname: 'owner_9.app.test' })).toBe(
      'owner_9',
    );
  });

  it('takes the first resolver that finds one', async () => {
    const resolve = customerIdFrom.firstOf(customerIdFrom.param(), customerIdFrom.user());
    expect(await resolve({ params: {}, user: { customerId: 'owner_u' } })).toBe('owner_u');
    expect(await resolve({ params: { customerId: 'owner_p' }, user: { customerId: 'x' } })).toBe(
      'owner_p',
    );
    expect(await resolve({})).toBeUndefined();
  });
});
