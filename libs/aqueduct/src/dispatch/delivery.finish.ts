import type { AqueductListenerContext } from '../events/aqueduct-event.interface';
import type { InlineStatement } from '../storage/opening-transaction';

/** Where a run's `DeliveryFinish` rides on its listener's context: hidden from hosts' listeners. */
const FINISH = Symbol('aqueduct.deliveryFinish');

/**
 * A delivery's `done`, offered to its listener to commit with its own last write: the module's
 * listeners whose work ends in a transaction of theirs (the ledger's write, the adapter call's
 * record) send it with that commit, which saves the separate write that would follow (a round trip
 * and a commit) and leaves no moment where the work is committed and its delivery still active.
 * When a listener does not take it, or its transaction fails, the dispatcher records the outcome
 * as usual.
 */
export class DeliveryFinish {
  private carried = false;

  constructor(private readonly done: () => InlineStatement) {}

  /** The statement writing the `done`, for the closing statements of the listener's transaction. */
  statement(): InlineStatement {
    return this.done();
  }

  /** The transaction that carried `statement()` committed: the delivery is done. */
  committed(): void {
    this.carried = true;
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
