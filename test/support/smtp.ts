import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** The `X-Aqueduct-Event` header: which event the mail is about. */
  eventId: string;
  messageId: string;
  /** When the server had it whole (Date.now()). */
  receivedAt: number;
}

/** A real SMTP server in the test process: it accepts, refuses for a while, or bounces addresses. */
export class TestSmtpServer {
  readonly received: ReceivedMail[] = [];
  /** While true, every connection is refused with 421 (the server is "down"). */
  down = false;
  /** Addresses answered with 550 (no such user). */
  readonly unknownUsers = new Set<string>();
  port = 0;
  private server?: SMTPServer;

  /** Listens on `port` (0: any free one); start again with the old port to bring it back up. */
  async start(port = 0): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onConnect: (_session, callback) =>
        callback(
          this.down
            ? Object.assign(new Error('Service not available, try later'), { responseCode: 421 })
            : undefined,
        ),
      onRcptTo: (address, _session, callback) =>
        callback(
          this.unknownUsers.has(address.address)
            ? Object.assign(new Error('No such user'), { responseCode: 550 })
            : undefined,
        ),
      onData: (stream, session, callback) => {
        simpleParser(stream).then((mail: ParsedMail) => {
          this.received.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            subject: mail.subject ?? '',
            text: mail.text ?? '',
            html: typeof mail.html === 'string' ? mail.html : '',
            eventId: String(mail.headers.get('x-aqueduct-event') ?? ''),
            messageId: mail.messageId ?? '',
            receivedAt: Date.now(),
          });
          callback();
        }, callback);
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as { port: number }).port;
  }

  /** nodemailer transport options pointing at this server. */
  get transport() {
    return { host: '127.0.0.1', port: this.port, secure: false, ignoreTLS: true };
  }

  to(address: string): ReceivedMail[] {
    return this.received.filter((mail) => mail.to.includes(address));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
