import { Logger } from '@nestjs/common';
import { resolveAqueductOptions } from '../options/aqueduct-options.validator';
import type { AccessCacheOptions } from '../options/aqueduct-options.interface';
import { AccessCache, spanAt, toSpans } from './access-cache';
import { RenewalWindow } from './renewal-window';

/** A read the test resolves or rejects when it chooses. */
interface PendingRead {
  customerId: string;
  resolve(rows: unknown[]): void;
  reject(error: Error): void;
}

const row = (productId: string, from: string, until: string) => ({
  productId,
  timeline: [{ from, until, status: 'active' }],
  awaitingPayment: false,
  orgs: [{ name: 'Acme', users: [{ name: 'A', email: 'a@example.com' }] }],
});

/** Every read of every test, answered at the end so that no timer outlives its test. */
const allReads: PendingRead[] = [];

function setUp(cache: AccessCacheOptions = {}, trigger = true) {
  const reads: PendingRead[] = [];
  const dataSource = {
    query: jest.fn((sql: string, params: unknown[]) => {
      if (sql.includes('pg_trigger')) {
        return Promise.resolve(trigger ? [{ '?column?': 1 }] : []);
      }
      return new Promise((resolve, reject) => {
        const read = { customerId: params[0] as string, resolve, reject };
        reads.push(read);
        allReads.push(read);
      });
    }),
  };
  let onNotification: (payload: string) => void = () => undefined;
  let onListening: (listening: boolean) => void = () => undefined;
  const notifications = {
    listening: true,
    listen: jest.fn(async (_channel: string, handler: (payload: string) => void) => {
      onNotification = handler;
      return async () => undefined;
    }),
    onListening: jest.fn((handler: (listening: boolean) => void) => {
      onListening = handler;
      return () => undefined;
    }),
  };
  const options = resolveAqueductOptions({
    secrets: ['s'],
    access: { cache: { disconnectedTtlMs: 1000, loadTimeoutMs: 500, retryMs: 1000, ...cache } },
  });
  const accessCache = new AccessCache(
    dataSource as never,
    notifications as never,
    { accessCacheSize: () => undefined } as never,
    {
      known: () => new RenewalWindow(options.access.settleMs),
      onChange: () => () => true,
      outage: () => null,
    } as never,
    options,
  );
  const lastRead = () => reads[reads.length - 1];
  return {
    accessCache,
    reads,
    lastRead,
    dataReads: () => reads.length,
    notify: (payload: string) => onNotification(payload),
    setListening: (listening: boolean) => {
      notifications.listening = listening;
      onListening(listening);
    },
  };
}

describe('AccessCache', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn']));
  let now = Date.parse('2026-01-01T00:00:00Z');
  beforeEach(() => {
    now = Date.parse('2026-01-01T00:00:00Z');
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => {
    allReads.splice(0).forEach((read) => read.resolve([]));
    jest.restoreAllMocks();
  });

  it('reads a customer once, then answers from memory while notifications flow', async () => {
    const t = setUp();
    await t.accessCache.onApplicationBootstrap();
    const first = t.accessCache.lookup('owner_1');
    t.lastRead().resolve([row('prod_pro', '2026-01-01T00:00:00Z', '2026-02-01T09:30:00Z')]);
    expect((await first).source).toBe('database');
    now += 3_600_000; // no TTL while listening
    const second = await t.accessCache.lookup('owner_1');
    expect(second.source).toBe('cache');
    expect(second.access?.get('prod_pro')).toEqual({
      // A paid period with no grace after it: the renewal window (`settleMs`, 75 min) follows.
      spans: [Date.parse('2026-01-01T00:00:00Z'), Date.parse('2026-02-01T10:45:00Z')],
      windows: [Date.parse('2026-02-01T09:30:00Z'), Date.parse('2026-02-01T10:45:00Z')],
      // One span and nothing after it: its paid end is all an outage needs.
      paidEnd: Date.parse('2026-02-01T09:30:00Z'),
      awaitingPayment: false,
      seatSpans: [], // the stored timeline carries no seats (an older row's): `seats` counts
      seats: 1,
    });
    expect(t.dataReads()).toBe(1);
  });

  it('never keeps a read that a change notification overtook, and later checks do not join it', async () => {
    const t = setUp();
    await t.accessCache.onApplicationBootstrap();
    const during = t.accessCache.lookup('owner_1');
    const staleRead = t.lastRead();
    // The ledger commits on another instance while this read is in flight; its NOTIFY arrives first.
    t.notify('owner_1');
    const after = t.accessCache.lookup('owner_1');
    expect(t.dataReads()).toBe(2); // a new read, not the overtaken one
    staleRead.resolve([]); // the snapshot from before the commit: no access
    expect((await during).access?.size).toBe(0); // the check that began before the change
    t.lastRead().resolve([row('prod_pro', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z')]);
    expect((await after).access?.has('prod_pro')).toBe(true);
    const cached = await t.accessCache.lookup('owner_1');
    expect(cached.source).toBe('cache');
    expect(cached.access?.has('prod_pro')).toBe(true);
  });

  it('a notification outdates the entry: read again, and answered stale when that read fails; an empty payload (TRUNCATE) outdates them all', async () => {
    const t = setUp();
    await t.accessCache.onApplicationBootstrap();
    for (const id of ['owner_1', 'owner_2']) {
      const lookup = t.accessCache.lookup(id);
      t.lastRead().resolve([]);
      await lookup;
    }
    t.notify('owner_1');
    expect((await t.accessCache.lookup('owner_2')).source).toBe('cache');
    const failing = t.accessCache.lookup('owner_1');
    expect(t.dataReads()).toBe(3);
    t.lastRead().reject(new Error('pool exhausted'));
    // What it held was true until the change: a paying customer is not refused for a failed read.
    expect((await failing).source).toBe('stale');
    expect(t.accessCache.state().entries).toBe(2);
    now += 2000; // past retryMs
    t.notify('');
    const again = t.accessCache.lookup('owner_2');
    expect(t.dataReads()).toBe(4);
    t.lastRead().resolve([]);
    expect((await again).source).toBe('database');
  });

  it('while the notification connection is down, entries live disconnectedTtlMs', async () => {
    const t = setUp();
    await t.accessCache.onApplicationBootstrap();
    t.setListening(false);
    const first = t.accessCache.lookup('owner_1');
    t.lastRead().resolve([]);
    await first;
    now += 999;
    expect((await t.accessCache.lookup('owner_1')).source).toBe('cache');
    now += 1;
    const again = t.accessCache.lookup('owner_1');
    expect(t.dataReads()).toBe(2);
    t.lastRead().resolve([]);
    expect((await again).source).toBe('database');
    expect(t.accessCache.state().notifications).toBe('disconnected');
  });

  it('an entry read before a disconnection is not trusted after it: a change may have been missed', async () => {
    const t = setUp();
    await t.accessCache.onApplicationBootstrap();
    const first = t.accessCache.lookup('owner_1');
    t.lastRead().resolve([]);
    await first;
    // Lost and back: a notification sent meanwhile never arrived.
    t.setListening(false);
    t.setListening(true);
    now += 1000;
    const after = t.accessCache.lookup('owner_1');
    expect(t.dataReads()).toBe(2);
    t.lastRead().resolve([row('prod_pro', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z')]);
    expect((await after).access?.has('prod_pro')).toBe(true);
    now += 3_600_000;
    expect((await t.accessCache.lookup('owner_1')).source).toBe('cache'); // trusted again
  });

  it('a read that spans a disconnection is kept only for the TTL', async () => {
    const t = setUp();
    await t.accessCache.onApplicationBootstrap();
    const lookup = t.accessCache.lookup('owner_1');
    t.setListening(false);
    t.setListening(true);
    t.lastRead().resolve([]);
    await lookup;
    now += 1000;
    void t.accessCache.lookup('owner_1');
    expect(t.dataReads()).toBe(2);
  });

  it('without the change trigger, every entry lives the TTL only', async () => {
    const t = setUp({}, false);
    await t.accessCache.onApplicationBootstrap();
    expect(t.accessCache.state().notifications).toBe('unsupported');
    const first = t.accessCache.lookup('owner_1');
    t.lastRead().resolve([]);
    await first;
    now += 1000;
    void t.accessCache.lookup('owner_1');
    expect(t.dataReads()).toBe(2);
  });

  it('when Postgres fails: a held customer is answered stale, an unknown one unavailable, and nobody waits during retryMs', async () => {
    const t = setUp();
    await t.accessCache.onApplicationBootstrap();
    const first = t.accessCache.lookup('owner_1');
    t.lastRead().resolve([row('prod_pro', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z')]);
    await first;
    t.setListening(false); // the outage takes the notification connection too
    now += 5000;
    const held = t.accessCache.lookup('owner_1');
    t.lastRead().reject(new Error('connect ECONNREFUSED'));
    const answer = await held;
    expect(answer.source).toBe('stale');
    expect(answer.access?.has('prod_pro')).toBe(true);
    expect(t.accessCache.state().database).toBe('unreachable');

    const reads = t.dataReads();
    const unknown = await t.accessCache.lookup('owner_2');
    expect(unknown).toMatchObject({ access: null, source: 'unavailable' });
    expect(t.dataReads()).toBe(reads); // failed fast: no read during retryMs

    now += 1000; // one probe may go; the others fail fast while it runs
    const probe = t.accessCache.lookup('owner_3');
    expect(t.dataReads()).toBe(reads + 1);
    expect(await t.accessCache.lookup('owner_4')).toMatchObject({ source: 'unavailable' });
    expect(t.dataReads()).toBe(reads + 1);
    t.lastRead().resolve([]);
    expect((await probe).source).toBe('database');
    expect(t.accessCache.state().database).toBe('reachable');
  });

  it('a read that does not answer within loadTimeoutMs counts as a failure', async () => {
    jest.useFakeTimers({ doNotFake: ['Date'] });
    try {
      const t = setUp({ loadTimeoutMs: 50 });
      await t.accessCache.onApplicationBootstrap();
      const lookup = t.accessCache.lookup('owner_1'); // never answered: a stalled connection
      jest.advanceTimersByTime(50);
      expect(await lookup).toMatchObject({ access: null, source: 'unavailable' });
    } finally {
      jest.useRealTimers();
    }
  });

  it('holds at most maxEntries customers, dropping the least recently checked', async () => {
    const t = setUp({ maxEntries: 2 });
    await t.accessCache.onApplicationBootstrap();
    for (const id of ['owner_1', 'owner_2']) {
      const lookup = t.accessCache.lookup(id);
      t.lastRead().resolve([]);
      await lookup;
    }
    await t.accessCache.lookup('owner_1'); // owner_2 is now the least recent
    const third = t.accessCache.lookup('owner_3');
    t.lastRead().resolve([]);
    await third;
    expect(t.accessCache.state().entries).toBe(2);
    expect((await t.accessCache.lookup('owner_1')).source).toBe('cache');
    void t.accessCache.lookup('owner_2');
    expect(t.lastRead().customerId).toBe('owner_2');
  });
});

describe('spans', () => {
  const at = (iso: string) => Date.parse(iso);

  it('merges a paid stretch and the grace that follows it, keeps gaps', () => {
    const spans = toSpans([
      { from: '2026-03-01T00:00:00Z', until: '2026-03-05T00:00:00Z' },
      { from: '2026-01-01T00:00:00Z', until: '2026-02-01T00:00:00Z' },
      { from: '2026-02-01T00:00:00Z', until: '2026-02-08T00:00:00Z' },
    ]);
    expect(spans).toEqual([
      at('2026-01-01T00:00:00Z'),
      at('2026-02-08T00:00:00Z'),
      at('2026-03-01T00:00:00Z'),
      at('2026-03-05T00:00:00Z'),
    ]);
  });

  it('answers a moment with the next change: starts included, ends excluded', () => {
    const spans = [at('2026-01-01T00:00:00Z'), at('2026-02-01T00:00:00Z')];
    expect(spanAt(spans, at('2025-12-31T23:59:59Z'))).toEqual({
      covered: false,
      changesAt: spans[0],
    });
    expect(spanAt(spans, spans[0])).toEqual({ covered: true, changesAt: spans[1] });
    expect(spanAt(spans, spans[1])).toEqual({ covered: false, changesAt: null });
  });
});
