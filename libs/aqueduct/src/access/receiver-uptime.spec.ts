import { GAP_AFTER_MS, ReceiverUptime } from './receiver-uptime';

const MINUTE = 60_000;
const SETTLE = 75 * MINUTE;

/** A Postgres stand-in: the read answers what `record` says at the moment of the read. */
function fakeDataSource(record: () => { seen_at: Date | null; since_ms: number | null }) {
  return {
    query: jest.fn(async (sql: string) => {
      if (/aqueduct_receiver_gaps/.test(sql) && /json_agg/.test(sql)) {
        return [{ ...record(), gaps: null }];
      }
      throw new Error(`unexpected statement: ${sql}`);
    }),
  };
}

describe('ReceiverUptime on a process that only reads (a worker)', () => {
  afterEach(() => {
    jest.clearAllTimers();
    jest.useRealTimers();
  });

  it('measures the receivers’ silence when it announces a loss, not when it last read', async () => {
    const start = Date.parse('2026-06-01T00:00:00Z');
    jest.useFakeTimers({ now: start });
    // The receivers' last beat was 80 s before the worker's read, and none came since.
    const lastBeat = start - 80_000;
    const dataSource = fakeDataSource(() => ({
      seen_at: new Date(lastBeat),
      since_ms: Date.now() - lastBeat,
    }));
    const clock = { now: () => new Date(Date.now()) };
    const uptime = new ReceiverUptime(
      dataSource as never,
      clock,
      { access: { settleMs: SETTLE } } as never,
      { receiverGap: () => undefined } as never,
      { httpAdapter: undefined } as never, // an application context: no HTTP adapter
    );
    await uptime.onApplicationBootstrap(); // reads, and every 30 s after
    expect(uptime.outage()).toBeNull(); // 80 s: not a gap yet

    // 29 s later, before the timer's next read: the receivers have been silent 109 s.
    jest.advanceTimersByTime(29_000);
    const now = new Date(Date.now());
    expect(now.getTime() - lastBeat).toBeGreaterThan(GAP_AFTER_MS);
    expect(uptime.known().gaps).toEqual([lastBeat, now.getTime()]); // checks: from memory
    const window = await uptime.confirmed(now);
    expect(dataSource.query).toHaveBeenCalledTimes(2); // a loss: read again, the silence confirmed
    // A paid period whose window closes now: Aqueduct's first retry (an hour after the end, up to
    // 15 min late) may have hit the silence, which the receivers will record as a gap.
    const paidEnd = now.getTime() - SETTLE;
    expect({ gaps: window.gaps, closesAt: window.closesAt(paidEnd) }).toEqual({
      gaps: [lastBeat, now.getTime()],
      closesAt: paidEnd + 7 * 60 * MINUTE + 15 * MINUTE,
    });
  });
});
