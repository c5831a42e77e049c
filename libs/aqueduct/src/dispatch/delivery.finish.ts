import type { AqueductListenerContext } from '../events/aqueduct-event.interface';
import type { InlineStatement } from '../storage/opening-transaction';

/** Where a run's `DeliveryFinish` rides on its listener's context: hidden from hosts' listeners. */
const FINISH = Symbol('aqueduct.deliveryFinish');

/**
 * A delivery's `done`, offered to its listener to commit with its own last write: the module's
 * listeners whose work ends in a transaction of theirs (the ledger's write, the adapter call's
 * record, the last mail's record) send it with that commit, which saves the separate write that would follow (a round trip
 * and a commit) and leaves no moment where the work is committed and its delivery still active.
 * When a listener does not take it, or its transaction fails, the dispatcher records the outcome
 * as usual. A listener carries it in its last transaction only, and calls `committed()` once that
 * commits; a failed commit must end the run (throw), as the ledger, the reconciler and the email
 * listener do.
 */
export class DeliveryFinish {
  private sent = false;
  private carried = false;

  constructor(private readonly done: () => InlineStatement) {}

  /** Adds the statement writing the `done` to the closing statements of the listener's transaction. */
  carry(close: (statement: InlineStatement) => void): void {
    close(this.done());
    this.sent = true;
  }

  /** The listener's transaction committed: the delivery is done, if that transaction carried it. */
  committed(): void {
    this.carried = this.sent;
  }

  /** Whether the `done` was committed with the listener's work. */
  get written(): boolean {
    return this.carried;
  }
}

/** The context with `finish` on it (not enumerable: a listener that logs its context shows none). */
export function withFinish(
  context: AqueductListenerContext,
  finish: DeliveryFinish | undefined,
): AqueductListenerContext {
  return finish ? Object.defineProperty(context, FINISH, { value: finish }) : context;
}

/** The run's `DeliveryFinish`, when its dispatcher offers one. */
export function finishOf(context: AqueductListenerContext): DeliveryFinish | undefined {
  return (context as { [FINISH]?: DeliveryFinish })[FINISH];
}
