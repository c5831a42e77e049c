import { withClient } from './database';

/** Rows written per statement while seeding (progress is logged between them). */
const SEED_CHUNK = 500_000;

/**
 * Writes `count` stored events as the module leaves them once their work is done: received
 * `daysAgo` days ago (one millisecond apart), each with one done delivery, and a small realistic
 * payload (a customer id per event, which the console's customer index covers). Set-based SQL
 * (generate_series), so ten million rows take minutes, not hours. Analyzes the tables at the end,
 * as autovacuum would have by then.
 */
export async function seedDoneEvents(
  databaseUrl: string,
  count: number,
  daysAgo: number,
  log: (message: string) => void,
): Promise<void> {
  await withClient(databaseUrl, async (client) => {
    for (let from = 1; from <= count; from += SEED_CHUNK) {
      const to = Math.min(count, from + SEED_CHUNK - 1);
      await client.query(
        `WITH events AS (
           INSERT INTO aqueduct_events (dedup_key, type, created_at, received_at, payload, status, delivery_id)
           SELECT 'seed:' || g, 'provisioning.start', t, t,
                  jsonb_build_object('type', 'provisioning.start', 'createdAt', t,
                    'object', jsonb_build_object('customerId', 'cus_seed_' || g, 'productId', 'prod_pro',
                      'startDate', t, 'endDate', t + interval '30 days',
                      'provisioningOrgs', jsonb_build_array(jsonb_build_object('name', 'Org ' || g,
                        'users', jsonb_build_array(jsonb_build_object('name', 'User', 'email', 'u' || g || '@seed.test')))))),
                  'accepted', 'msg_seed_' || g
             FROM generate_series($1::int, $2::int) g,
                  LATERAL (SELECT now() - $3 * interval '1 day' + g * interval '1 millisecond' AS t) at
           RETURNING id, received_at)
         INSERT INTO aqueduct_deliveries (event_id, listener, state, attempts, run_at, created_at, started_at, finished_at)
         SELECT id, 'aqueduct.provisioning', 'done', 1, received_at, received_at, received_at, received_at
           FROM events`,
        [from, to, daysAgo],
      );
      log(`seeded ${to.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} events`);
    }
    await client.query('ANALYZE aqueduct_events');
    await client.query('ANALYZE aqueduct_deliveries');
  });
}
