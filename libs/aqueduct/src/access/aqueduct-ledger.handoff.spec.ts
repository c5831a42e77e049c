import type { AqueductDispatcher } from '../dispatch/aqueduct-dispatcher.service';
import type { InternalEventRecord } from '../storage/aqueduct-inbox.service';
import type { ClaimedDelivery } from '../storage/delivery-queue.interface';
import { LedgerHandoff } from './aqueduct-ledger.handoff';

/** The dispatcher's room accounting, as `reserve` / `unreserve` / `runReserved` keep it. */
class FakeDispatcher {
  reserved = 0;
  ran: ClaimedDelivery[] = [];
  constructor(private readonly room: number) {}

  reserve(count: number) {
    if (count === 0 || this.reserved + count > this.room) {
      return undefined;
    }
    this.reserved += count;
    return { owner: 'here', leaseMs: 1000 };
  }
  unreserve(count: number) {
    this.reserved -= count;
  }
  runReserved(deliveries: ClaimedDelivery[]) {
    this.unreserve(deliveries.length);
    this.ran.push(...deliveries);
  }
}

const record = (key: string, listeners: string[]): InternalEventRecord => ({
  dedupKey: key,
  type: 'access.started',
  createdAt: new Date('2026-01-01T00:00:00Z'),
  payload: { type: 'access.started', createdAt: new Date('2026-01-01T00:00:00Z'), object: {} },
  listeners,
});
const stored = (key: string, id: string) => ({ id, dedupKey: key, receivedAt: new Date() });

describe('LedgerHandoff', () => {
  const records = [record('a', ['mail', 'adapter']), record('b', ['mail'])];

  it('runs what was stored after the commit, and gives back the room of keys stored before', () => {
    const dispatcher = new FakeDispatcher(10);
    const handoff = new LedgerHandoff(dispatcher as unknown as AqueductDispatcher, () => true);
    expect(handoff.lease(records)).toEqual({ owner: 'here', leaseMs: 1000 });
    handoff.stored(records, [stored('a', 'e1')]); // 'b' was stored by an earlier write
    expect(handoff.storedPending).toBe(false); // nothing to claim: no wake-up
    handoff.committed();
    expect(dispatcher.ran.map((d) => `${d.eventId}:${d.listener}`)).toEqual([
      'e1:mail',
      'e1:adapter',
    ]);
    // Dates as a claim would read them back from the stored JSON.
    expect(dispatcher.ran[0]).toMatchObject({
      attempts: 1,
      type: 'access.started',
      payload: { createdAt: '2026-01-01T00:00:00.000Z' },
    });
    expect(dispatcher.reserved).toBe(0);
  });

  it('gives all the room back when the transaction does not commit', () => {
    const dispatcher = new FakeDispatcher(10);
    const handoff = new LedgerHandoff(dispatcher as unknown as AqueductDispatcher, () => true);
    handoff.lease(records);
    handoff.stored(records, [stored('a', 'e1'), stored('b', 'e2')]);
    handoff.abandoned();
    expect(dispatcher.ran).toEqual([]);
    expect(dispatcher.reserved).toBe(0);
  });

  it('leases nothing, and holds no room, when the dispatcher is full', () => {
    const dispatcher = new FakeDispatcher(2);
    const handoff = new LedgerHandoff(dispatcher as unknown as AqueductDispatcher, () => true);
    expect(handoff.lease(records)).toBeUndefined();
    expect(handoff.storedPending).toBe(true); // the dispatchers are woken to claim them
    handoff.committed();
    expect(dispatcher.ran).toEqual([]);
    expect(dispatcher.reserved).toBe(0);
  });

  it('leases nothing when only other instances run a listener of the type', () => {
    const dispatcher = new FakeDispatcher(10);
    const handoff = new LedgerHandoff(dispatcher as unknown as AqueductDispatcher, () => false);
    expect(handoff.lease(records)).toBeUndefined();
    expect(handoff.storedPending).toBe(true);
    expect(dispatcher.reserved).toBe(0);
  });
});
