import { emailDateFormat, templateVariables } from './email.variables';

describe('templateVariables', () => {
  const email = { transport: {}, from: 'billing@acme.test' };
  const recipient = { address: 'ada@acme.test', userName: 'Ada', orgName: 'Acme' };
  const object = {
    productId: 'prod_pro',
    endDate: '2026-01-31T00:00:00.000Z',
    accessUntil: '2026-02-07T00:00:00.000Z',
  };
  const at = (now: string, alertEndedAt?: Date | null) =>
    templateVariables(object, recipient, email, emailDateFormat(email), {
      now: new Date(now),
      alertEndedAt,
    });

  it('gives the paid period’s end while it is ahead, and none once it has passed (in grace)', () => {
    expect(at('2026-01-10T00:00:00Z').paidUntil).toBe('January 31, 2026 at 12:00 AM UTC');
    expect(at('2026-02-02T00:00:00Z').paidUntil).toBe('');
  });

  it('says when an alert’s incident ended, only once it has', () => {
    expect(at('2026-01-10T00:00:00Z').alertResolvedAt).toBeUndefined();
    expect(at('2026-01-10T00:00:00Z', new Date('2026-01-10T00:00:00Z')).alertResolvedAt).toBe(
      'January 10, 2026 at 12:00 AM UTC',
    );
  });
});
