import type { DataSource } from 'typeorm';
import type { ProvisioningAdapter } from '../options/provisioning-adapter.interface';
import type { AccessRow } from './aqueduct-ledger.sql';
import { ProvisioningReconciler } from './provisioning.reconciler';

const pair = { customerId: 'cus_1', productId: 'prod_1' };

/** One access row announced active and not yet provisioned, behind a fake of what Postgres does. */
function world(adapter: Partial<ProvisioningAdapter>) {
  const row = {
    id: 'access-1',
    customer_id: pair.customerId,
    product_id: pair.productId,
    announced_status: 'active',
    announced_until: null,
    announced_orgs: [{ name: 'Org', users: [] }],
    since: new Date('2026-01-01T00:00:00Z'),
    paid_until: null,
    last_transition: 'access.started',
    provisioned: false,
    provisioned_orgs: null,
    adapter_seq: 0,
  } as unknown as AccessRow;
  const counts = { transactions: 0, reads: 0 };
  const read = async () => {
    counts.reads++;
    return [{ ...row }];
  };
  // What openingTransaction asks of a connection: the start with the locks (customer, pair), the
  // read and the customer's other products in one query, the record of the adapter call with the
  // commit in another (values written in).
  const client = {
    escapeLiteral: (value: string) => `'${value}'`,
    query: async (text: string) => {
      if (text.startsWith('START TRANSACTION')) {
        counts.transactions++;
        expect(text).toMatch(
          /^START TRANSACTION;\nSELECT pg_advisory_xact_lock.*;\nSELECT pg_advisory_xact_lock.*;\nSELECT \*.*;\nSELECT product_id/s,
        );
        return [{ rows: [] }, { rows: [{}] }, { rows: [{}] }, { rows: await read() }, { rows: [] }];
      }
      const [, provisioned, orgs] = /provisioned = '(\w+)', provisioned_orgs = '(.*)'::jsonb/s.exec(
        text,
      )!;
      expect(text).toMatch(/;\nCOMMIT$/);
      row.provisioned = provisioned === 'true';
      row.provisioned_orgs = JSON.parse(orgs);
      row.adapter_seq++;
      return [{ rows: [] }, { rows: [] }];
    },
  };
  const dataSource = {
    driver: { master: { options: { max: 10 } } },
    logger: { logQuery: () => undefined },
    query: read,
    createQueryRunner: () => ({
      connect: async () => client,
      query: async () => [],
      release: async () => undefined,
    }),
  } as unknown as DataSource;
  const reconciler = new ProvisioningReconciler(dataSource, adapter as ProvisioningAdapter);
  return { reconciler, counts, row };
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

describe('ProvisioningReconciler: calls for one pair in one process', () => {
  it('a call arriving while another runs waits for it, then finds the adapter in step', async () => {
    const provision = jest.fn(tick);
    const { reconciler, counts, row } = world({ provision });

    // Two access.* deliveries of one write for the same pair, started at the same moment.
    await Promise.all([reconciler.reconcile(pair, true), reconciler.reconcile(pair)]);

    expect(provision).toHaveBeenCalledTimes(1);
    expect(row.provisioned).toBe(true);
    // One locked transaction; the second call read once, after the first had committed.
    expect(counts.transactions).toBe(1);
    expect(counts.reads).toBe(2);
  });

  it('when the running call fails, the waiting one does the work', async () => {
    const provision = jest
      .fn()
      .mockImplementationOnce(async () => {
        await tick();
        throw new Error('adapter down');
      })
      .mockImplementation(tick);
    const { reconciler, counts, row } = world({ provision });

    const [first, second] = await Promise.allSettled([
      reconciler.reconcile(pair, true),
      reconciler.reconcile(pair),
    ]);

    expect(first.status).toBe('rejected');
    expect(second.status).toBe('fulfilled');
    expect(provision).toHaveBeenCalledTimes(2);
    expect(row.provisioned).toBe(true);
    expect(counts.transactions).toBe(2);
  });
});
