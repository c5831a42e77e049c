import { withClient } from './database';
import { seedDoneEvents } from './seed-events';

/**
 * Customers an established host already has when the real-listener benchmarks start
 * (BENCH_CUSTOMERS): a small SaaS. Their access rows fill ~400 pages: in the range where a plan
 * that misjudges its input's size (a function's 100 rows) reads the whole table per event, which
 * an empty ledger hides (past ~800 pages the planner takes the index again).
 */
export const DEFAULT_EXISTING_CUSTOMERS = 5_000;

/** BENCH_CUSTOMERS, else the default; 0 seeds nothing. */
export const existingCustomers = (): number =>
  process.env.BENCH_CUSTOMERS === undefined
    ? DEFAULT_EXISTING_CUSTOMERS
    : Math.max(0, Math.floor(Number(process.env.BENCH_CUSTOMERS)) || 0);

/** One org with one user, as the seeded start event's payload has it. */
const ORGS = `jsonb_build_array(jsonb_build_object('name', 'Org ' || g,
  'users', jsonb_build_array(jsonb_build_object('name', 'User', 'email', 'u' || g || '@seed.test'))))`;

/** The ledger's rows of customers 1 to `$1`, and their welcome mails' records. */
const LEDGER_SEED_SQL = [
  `INSERT INTO aqueduct_provisionings
     (key, customer_id, product_id, subscription_id, invoice_id, start_date, end_date,
      grace_period_end_date, access_until, orgs, last_event_type, last_event_at)
   SELECT 'seed:' || g, 'cus_seed_' || g, 'prod_pro', 'sub_seed_' || g, 'inv_seed_' || g,
          now() - interval '10 days', now() + interval '20 days', now() + interval '27 days',
          now() + interval '27 days', ${ORGS}, 'provisioning.start', now() - interval '10 days'
     FROM generate_series(1, $1::int) g`,
  `INSERT INTO aqueduct_invoice_payments (invoice_id, paid_at)
   SELECT 'inv_seed_' || g, now() - interval '10 days' FROM generate_series(1, $1::int) g`,
  `INSERT INTO aqueduct_access
     (customer_id, product_id, status, has_access, since, access_until, paid_until, orgs, timeline,
      next_check_at, evaluated_at, announced_status, announced_until, announced_orgs, announce_seq,
      last_transition, provisioned, provisioned_orgs, adapter_seq)
   SELECT 'cus_seed_' || g, 'prod_pro', 'active', true, now() - interval '10 days',
          now() + interval '27 days', now() + interval '20 days', ${ORGS},
          jsonb_build_array(jsonb_build_object('from', now() - interval '10 days',
            'until', now() + interval '27 days')),
          now() + interval '20 days', now() - interval '10 days', 'active',
          now() + interval '27 days', ${ORGS}, 1, 'access.started', true, ${ORGS}, 1
     FROM generate_series(1, $1::int) g`,
  `INSERT INTO aqueduct_emails (key, event_id, template, recipient, status)
   SELECT 'seed:' || g, gen_random_uuid(), 'access-started', 'u' || g || '@seed.test', 'sent'
     FROM generate_series(1, $1::int) g`,
];

/**
 * Writes `count` customers as the module leaves a paying one (`cus_seed_<n>`): their start event
 * with its done delivery (`seedDoneEvents`), a provisioning of the current period with its paid
 * invoice, an active access row (adapter in step) and the welcome mail's record. Set-based SQL;
 * analyzes the tables at the end, as autovacuum would have by then.
 */
export async function seedCustomers(
  databaseUrl: string,
  count: number,
  log: (message: string) => void,
): Promise<void> {
  if (count === 0) {
    return;
  }
  await seedDoneEvents(databaseUrl, count, 1, log);
  await withClient(databaseUrl, async (client) => {
    for (const statement of LEDGER_SEED_SQL) {
      await client.query(statement, [count]);
    }
    await client.query(
      'ANALYZE aqueduct_provisionings, aqueduct_invoice_payments, aqueduct_access, aqueduct_emails',
    );
  });
  log(`seeded ${count.toLocaleString('en-US')} existing customers (ledger, payments, mails)`);
}
