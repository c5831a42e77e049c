import type { DeliveryFinish } from '../dispatch/delivery.finish';
import { MailRun } from './email.run';

const finish = {} as DeliveryFinish;

describe('MailRun', () => {
  it('gives the done to the last mail answered, when every one was handled', () => {
    const run = new MailRun(3, finish);
    const [a, b, c] = [run.mail(), run.mail(), run.mail()];
    expect(b(true)).toBeUndefined();
    expect(a(true)).toBeUndefined();
    expect(c(true)).toBe(finish);
  });

  it('never after a mail that failed, whichever settles last', () => {
    const run = new MailRun(2, finish);
    const [a, b] = [run.mail(), run.mail()];
    expect(a(false)).toBeUndefined();
    expect(b(true)).toBeUndefined();
  });

  it('settles each mail once: a later call changes nothing', () => {
    const run = new MailRun(2, finish);
    const [a, b] = [run.mail(), run.mail()];
    expect(a(true)).toBeUndefined();
    expect(a(false)).toBeUndefined(); // the finally after a handled mail
    expect(b(true)).toBe(finish);
  });

  it('has nothing to give when the dispatcher offered nothing', () => {
    const run = new MailRun(1);
    expect(run.mail()(true)).toBeUndefined();
  });
});
