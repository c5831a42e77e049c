import type { Entitlement } from '../access/aqueduct-access.interfaces';
import { switchedUsers } from './email.switch';

const DAY = 24 * 60 * 60_000;
const t = (days: number) => new Date(Date.UTC(2026, 0, 1) + days * DAY);

/** An entitlement of one org whose users are `emails`. */
function entitlement(
  productId: string,
  since: Date,
  emails: string[],
  extra: Partial<Entitlement> = {},
): Entitlement {
  return {
    productId,
    since,
    hasAccess: true,
    orgs: [{ name: 'Acme', users: emails.map((email) => ({ name: email, email })) }],
    timeline: [],
    ...extra,
  } as unknown as Entitlement;
}

describe('switchedUsers', () => {
  const basic = entitlement('basic', t(0), ['ada@acme.test', 'bob@acme.test'], {
    hasAccess: false,
    timeline: [
      { from: t(0), until: t(15), status: 'active' },
      { from: t(15), until: t(22), status: 'grace' },
    ],
  });

  it('a product begun at the lost one’s paid end: its users switched, the others did not', () => {
    const pro = entitlement('pro', t(15), ['Ada@Acme.test']);
    expect([...switchedUsers([basic, pro], 'basic', t(22), t(23))]).toEqual(['ada@acme.test']);
  });

  it('a product held long before (an add-on): nobody switched', () => {
    const addOn = entitlement('storage', t(-40), ['ada@acme.test']);
    expect(switchedUsers([basic, addOn], 'basic', t(22), t(23)).size).toBe(0);
  });

  it('a product that no longer grants access, or no paid end before the loss: nobody switched', () => {
    const gone = entitlement('pro', t(15), ['ada@acme.test'], { hasAccess: false });
    expect(switchedUsers([basic, gone], 'basic', t(22), t(23)).size).toBe(0);
    const pro = entitlement('pro', t(15), ['ada@acme.test']);
    expect(switchedUsers([basic, pro], 'basic', t(10), t(23)).size).toBe(0);
  });
});
