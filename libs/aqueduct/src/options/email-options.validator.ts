import { invalidOption } from '../aqueduct.messages';
import { MAIL_DEFAULTS } from './aqueduct-options.defaults';
import type { AqueductModuleOptions } from './aqueduct-options.interface';

const EMAIL_TEMPLATE_NAMES = Object.keys(MAIL_DEFAULTS);

export function checkEmail(options: AqueductModuleOptions): void {
  const email = options.email;
  if (email === undefined) {
    return;
  }
  if (!email || typeof email !== 'object') {
    throw new Error(invalidOption('email', 'must be an object with transport and from'));
  }
  if (typeof email.from !== 'string' || !email.from.includes('@')) {
    throw new Error(
      invalidOption('email.from', 'must be a sender address, e.g. "Billing <billing@example.com>"'),
    );
  }
  const transport = email.transport as unknown;
  if (!transport || (typeof transport !== 'string' && typeof transport !== 'object')) {
    throw new Error(
      invalidOption(
        'email.transport',
        'must be an SMTP URL, nodemailer transport options or a transport',
      ),
    );
  }
  const mails = email.mails as unknown;
  if (mails !== undefined) {
    if (!mails || typeof mails !== 'object') {
      throw new Error(invalidOption('email.mails', 'must map mail names to true or false'));
    }
    for (const [name, on] of Object.entries(mails)) {
      if (!EMAIL_TEMPLATE_NAMES.includes(name) || typeof on !== 'boolean') {
        throw new Error(
          invalidOption(
            `email.mails.${name}`,
            `must be true or false, for one of ${EMAIL_TEMPLATE_NAMES.join(', ')}`,
          ),
        );
      }
    }
  }
  if (email.timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: email.timeZone });
    } catch {
      throw new Error(
        invalidOption('email.timeZone', `"${email.timeZone}" is not an IANA time zone`),
      );
    }
  }
}
