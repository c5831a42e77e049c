import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import { wholeMessage } from './whole-message.plugin';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';

export const EMAIL_TRANSPORT = Symbol('AQUEDUCT_EMAIL_TRANSPORT');

/** Time to wait for an SMTP server before the send fails and the delivery is retried later. */
const SMTP_TIMEOUT_MS = 15_000;

/**
 * A nodemailer transport from the options (null when email is off); a ready transporter is used as
 * given. `pool: true` in the options is what a host sending in volume wants: a new SMTP connection
 * per mail spent about 100 ms waiting for a local server's greeting, a pooled one about 3–7 ms.
 * It is not the default: nodemailer's pool recovers differently from a server that refuses for a
 * while, which the delivery retries are built around.
 */
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
    const made = createTransport({ ...timeouts, ...settings });
    // Only on a transport the module made: the host's own keeps its plugins and ways as they are.
    made.use('stream', wholeMessage);
    return made;
  },
};

/** Closes the transport the module made (a pool's open connections) when the app shuts down. */
@Injectable()
export class EmailTransportCloser implements OnApplicationShutdown {
  constructor(
    @Inject(EMAIL_TRANSPORT) private readonly transport: Transporter | null,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  onApplicationShutdown(): void {
    // The host's own transporter is the host's to close.
    if (this.transport && this.transport !== this.options.email?.transport) {
      this.transport.close();
    }
  }
}
