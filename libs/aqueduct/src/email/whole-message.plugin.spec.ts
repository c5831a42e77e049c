import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { wholeMessage } from './whole-message.plugin';

describe('wholeMessage', () => {
  it('hands over the composed message as one chunk, byte for byte what nodemailer streams', async () => {
    const data: Mail.Options = {
      from: 'Acme <billing@acme.test>',
      to: 'ada@acme.test',
      subject: 'Your access to Acme Pro has started',
      text: 'Hello Ada,\n'.repeat(50),
      html: '<p>Hello Ada</p>'.repeat(50),
      messageId: '<fixed@acme.test>',
      date: new Date('2026-01-01T00:00:00Z'),
      baseBoundary: 'fixed-boundary',
    };
    const read = async (plugin: boolean) => {
      const message = new MailComposer(data).compile();
      if (plugin) {
        await new Promise<void>((resolve, reject) =>
          wholeMessage({ message } as Parameters<Mail.PluginFunction>[0], (error) =>
            error ? reject(error) : resolve(),
          ),
        );
      }
      const chunks: Buffer[] = [];
      for await (const chunk of message.createReadStream()) {
        chunks.push(chunk as Buffer);
      }
      return chunks;
    };
    const streamed = await read(false);
    const whole = await read(true);
    expect(streamed.length).toBeGreaterThan(5);
    expect(whole).toHaveLength(1);
    expect(whole[0].toString()).toBe(Buffer.concat(streamed).toString());
  });
});
