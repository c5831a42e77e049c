import type { EmailTemplateVariables } from '../options/email-options.interface';
import { renderEmail } from './email.templates';

const variables = {
  productId: 'prod_pro',
  productName: 'Acme Pro',
  customerId: 'owner_1',
  orgName: 'Acme',
  userName: 'Ada <Admin>',
  startDate: 'March 1, 2026',
  at: 'March 1, 2026',
  endDate: 'March 31, 2026',
  gracePeriodEndDate: 'April 7, 2026',
  accessUntil: 'April 7, 2026',
} satisfies EmailTemplateVariables;

describe('renderEmail', () => {
  it('makes the HTML part of a text given without HTML from that text, escaped', () => {
    const content = renderEmail('access-started', variables, (v) => ({
      text: `Hi ${v.userName},\n\nlog in at https://app.acme.test/login`,
    }));
    expect(content.subject).toBe('Your access to Acme Pro has started');
    expect(content.html).toBe(
      '<p>Hi Ada &lt;Admin&gt;,</p>\n<p>log in at <a href="https://app.acme.test/login">https://app.acme.test/login</a></p>',
    );
  });

  it('makes its web addresses links, without the punctuation that ends the sentence', () => {
    const content = renderEmail('access-started', variables, {
      text: 'Log in at https://app.acme.test/login?org=a&b=1. Or see (https://acme.test/help).',
    });
    expect(content.html).toBe(
      '<p>Log in at <a href="https://app.acme.test/login?org=a&amp;b=1">https://app.acme.test/login?org=a&amp;b=1</a>. ' +
        'Or see (<a href="https://acme.test/help">https://acme.test/help</a>).</p>',
    );
  });

  it('the same for a text given as a string with placeholders', () => {
    const content = renderEmail('access-ended', variables, { text: 'Bye {{userName}}' });
    expect(content).toMatchObject({
      text: 'Bye Ada <Admin>',
      html: '<p>Bye Ada &lt;Admin&gt;</p>',
    });
  });

  it('keeps HTML given with the text, and the default HTML when only the subject is given', () => {
    expect(renderEmail('access-ended', variables, { text: 'Bye', html: '<b>Bye</b>' }).html).toBe(
      '<b>Bye</b>',
    );
    const subjectOnly = renderEmail('access-ended', variables, { subject: 'So long' });
    expect(subjectOnly.subject).toBe('So long');
    expect(subjectOnly.html).toContain('Your access to Acme Pro for Acme ended on April 7, 2026.');
  });
});
