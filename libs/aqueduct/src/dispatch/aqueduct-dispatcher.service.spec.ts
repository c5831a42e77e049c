import { AqueductDispatcher } from './aqueduct-dispatcher.service';
import type { ClaimedDelivery, DeliveryQueue } from '../storage/delivery-queue.interface';
import { DispatchSignal } from '../storage/dispatch-signal';

const LEASE_MS = 300;

function delivery(eventId: string): ClaimedDelivery {
  return {
    eventId,
    listener: 'effect',
    attempts: 1,
    firstRun: true,
    type: 'invoice.paid',
    createdAt: null,
    receivedAt: new Date(),
    payload: {},
  };
}

const until = async (condition: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error('timed out');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

/**
 * A lease of this instance can lapse while it still holds the delivery (a heartbeat or a
 * completion write delayed on a saturated pool); the claim then returns it to this same instance.
 * The queue here is a fake that does exactly that.
 */
describe('AqueductDispatcher: a delivery this instance holds is never run twice by it', () => {
  let dispatcher: AqueductDispatcher;
  let runs: string[];
  let claims: ClaimedDelivery[][];
  let extended: string[][];
  let releaseListener: () => void;
  let releaseCompletion: () => void;
  let completed: string[];

  beforeEach(() => {
    runs = [];
    claims = [];
    extended = [];
    completed = [];
    const listenerGate = new Promise<void>((resolve) => (releaseListener = resolve));
    const completionGate = new Promise<void>((resolve) => (releaseCompletion = resolve));
    const queue: DeliveryQueue = {
      claim: async () => claims.shift() ?? [],
      complete: async (d) => {
        await completionGate;
        completed.push(d.eventId);
      },
      fail: async () => true,
      extend: async (deliveries) => {
        extended.push(deliveries.map((d) => d.eventId));
      },
      release: async () => undefined,
    };
    const registry = {
      names: () => ['effect'],
      get: () => ({
        handler: async (event: { id: string }) => {
          runs.push(event.id);
          await listenerGate;
        },
      }),
    };
    dispatcher = new AqueductDispatcher(
      {
        dispatch: {
          enabled: true,
          concurrency: 4,
          maxAttempts: 5,
          retryBaseDelayMs: 10,
          retryMaxDelayMs: 10,
          leaseMs: LEASE_MS,
          pollIntervalMs: 10,
          shutdownTimeoutMs: 1000,
          listenerTimeoutMs: 60_000,
        },
      } as never,
      { driver: { master: { options: { max: 10 } } } } as never,
      queue,
      registry as never,
      new DispatchSignal(),
      { start: async () => undefined, stop: async () => undefined } as never,
      { raise: async () => undefined } as never,
      { listenerStarted: () => undefined, listenerFinished: () => undefined } as never,
    );
  });

  afterEach(async () => {
    releaseListener();
    releaseCompletion();
    await dispatcher.stop();
  });

  it('while its listener runs', async () => {
    claims.push([delivery('e1')]);
    await dispatcher.start();
    await until(() => runs.length === 1);
    claims.push([delivery('e1')]);
    await until(() => claims.length === 0);
    releaseListener();
    releaseCompletion();
    await until(() => completed.length === 1);
    expect(runs).toEqual(['e1']);
  });

  it('while its done is waiting to be written, and keeps renewing that lease', async () => {
    releaseListener();
    claims.push([delivery('e2')]);
    await dispatcher.start();
    await until(() => runs.length === 1);
    claims.push([delivery('e2')]);
    await until(() => claims.length === 0);
    // The heartbeat (every leaseMs / 3) still covers the delivery whose completion is pending.
    await until(() => extended.some((ids) => ids.includes('e2')));
    releaseCompletion();
    await until(() => completed.length === 1);
    expect(runs).toEqual(['e2']);
  });
});
