import type { DeliveryFinish } from '../dispatch/delivery.finish';

/** Settles one mail of a run, once: `true` when the server accepted it or refused it for good. */
export type SettleMail = (handled: boolean) => DeliveryFinish | undefined;

/**
 * The mails of one delivery's run, as the server answers each: once every one was accepted (or
 * refused for good), the delivery's work is done, and the record of the last one may carry its
 * `done`. Records are never held back for it: each is written the moment its mail is answered, so
 * the window for a mail sent twice (a crash before its record) stays one mail wide.
 */
export class MailRun {
  private failed = false;

  /** `open`: the mails this run sends. */
  constructor(
    private open: number,
    private readonly finish?: DeliveryFinish,
  ) {}

  /** The settle function of one mail (later calls do nothing). */
  mail(): SettleMail {
    let settled = false;
    return (handled) => {
      if (settled) {
        return undefined;
      }
      settled = true;
      this.open--;
      this.failed ||= !handled;
      return handled && !this.failed && this.open === 0 ? this.finish : undefined;
    };
  }
}
