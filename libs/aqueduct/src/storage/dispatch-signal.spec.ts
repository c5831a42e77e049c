import { DispatchSignal } from './dispatch-signal';

/** Whether `promise` has settled once pending callbacks ran (no timer moves). */
async function settledNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
  return settled;
}

describe('DispatchSignal', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('keeps a wake-up that comes after a wait timed out, for the next wait', async () => {
    const signal = new DispatchSignal();
    const poll = signal.wait(5); // nobody woke it: the poll's timeout ends it
    jest.advanceTimersByTime(5);
    await poll;
    signal.wake(); // while the dispatcher claims, nobody waits
    expect(await settledNow(signal.wait(10_000))).toBe(true);
  });

  it('wakes a waiter at once, and a later wait waits', async () => {
    const signal = new DispatchSignal();
    const waiting = signal.wait(10_000);
    signal.wake();
    expect(await settledNow(waiting)).toBe(true);
    expect(await settledNow(signal.wait(10_000))).toBe(false);
  });
});
