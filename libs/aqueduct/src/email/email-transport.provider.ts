import type { Provider } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';

export const EMAIL_TRANSPORT = Symbol('AQUEDUCT_EMAIL_TRANSPORT');

/** Time to wait for an SMTP server before the send fails and the delivery is retried later. */
const SMTP_TIMEOUT_MS = 15_000;

/** A nodemailer transport from the options (null when email is off). */
export const emailTransportProvider: Provider = {
  provide: EMAIL_TRANSPORT,
  inject: [AQUEDUCT_OPTIONS],
  useFactory: (options: ResolvedAqueductOptions): Transporter | null => {
    const transport = options.email?.transport;
    if (!transport) {
      return null;
    }
    if (typeof (transport as Transporter).sendMail === 'function') {
      return transport as Transporter;
    }
    const timeouts = {
      connectionTimeout: SMTP_TIMEOUT_MS,
      greetingTimeout: SMTP_TIMEOUT_MS,
      socketTimeout: SMTP_TIMEOUT_MS,
    };
    const settings = typeof transport === 'string' ? { url: transport } : (transport as object);
    return createTransport({ ...timeouts, ...settings });
  },
};
