import { AccessEventType } from '../events/access-event-types';
import type { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import type { AqueductLedger, SweepBatch } from './aqueduct-ledger.service';
import { ExpiryJob } from './expiry.job';
import type { AccessTransition } from './access-transitions';

const expired = (n: number) =>
  Array.from({ length: n }, () => ({ type: AccessEventType.Expired }) as AccessTransition);

/** An expiry job over a ledger whose batches are `batches`, in turn; the metrics it records. */
function jobOver(batches: SweepBatch[]) {
  const recorded: number[][] = [];
  const ledger = { sweepBatch: async () => batches.shift()! } as unknown as AqueductLedger;
  const options = { expiry: { enabled: false, batchSize: 3 } } as ResolvedAqueductOptions;
  const metrics = {
    sweep: (...args: number[]) => recorded.push(args.slice(1)),
  } as unknown as AqueductMetrics;
  const job = new ExpiryJob(ledger, options, { now: () => new Date() }, metrics);
  return { job, recorded };
}

describe('ExpiryJob.sweep', () => {
  it('reports the batches it did when another instance takes the lock between two', async () => {
    const { job, recorded } = jobOver([
      { won: true, evaluated: 3, transitions: expired(3) },
      { won: true, evaluated: 3, transitions: expired(3) },
      { won: false, evaluated: 0, transitions: [] },
    ]);
    const result = await job.sweep();
    expect(result).toMatchObject({ ran: true, batches: 2, evaluated: 6, expired: 6 });
    expect(recorded).toEqual([[6, 0]]);
  });

  it('did nothing, and records nothing, when another instance held the lock from the start', async () => {
    const { job, recorded } = jobOver([{ won: false, evaluated: 0, transitions: [] }]);
    expect(await job.sweep()).toMatchObject({ ran: false, batches: 0, expired: 0 });
    expect(recorded).toEqual([]);
  });

  it('stops at the first batch short of the batch size', async () => {
    const { job } = jobOver([
      { won: true, evaluated: 3, transitions: expired(1) },
      { won: true, evaluated: 1, transitions: expired(1) },
    ]);
    expect(await job.sweep()).toMatchObject({ ran: true, batches: 2, expired: 2 });
  });
});
