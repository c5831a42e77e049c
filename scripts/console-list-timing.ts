/**
 * How fast the console's event list answers on a large inbox: fills a scratch database with
 * 1,000,000 events (10,000 customers, 5 types, 1 % rejected, 0.1 % with a dead delivery), then
 * times `AqueductEventsService.pageEvents` for each filter, first page and deep pages, and prints
 * the plans. Not a test: run it by hand against a Postgres server.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npx ts-node --transpile-only \
 *     -r tsconfig-paths/register scripts/console-list-timing.ts
 */
import { AqueductEventsService, aqueductMigrations } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';

const EVENTS = Number(process.env.EVENTS ?? 1_000_000);
const DATABASE = 'aqueduct_console_timing';

async function main(): Promise<void> {
  const server = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const admin = new DataSource({ type: 'postgres', url: server });
  await admin.initialize();
  const [{ exists }] = await admin.query(
    `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists`,
    [DATABASE],
  );
  if (!exists || process.env.REFILL) {
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DATABASE}`);
  }
  await admin.destroy();
  const url = new URL(server);
  url.pathname = `/${DATABASE}`;
  const db = new DataSource({
    type: 'postgres',
    url: url.toString(),
    migrations: aqueductMigrations,
  });
  await db.initialize();
  await db.runMigrations();
  const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM aqueduct_events`);
  if (n < EVENTS) {
    const started = Date.now();
    await fill(db);
    console.log(`filled ${EVENTS} events in ${Date.now() - started} ms`);
  }
  const events = new AqueductEventsService(db, { namesFor: () => [] } as never, {} as never);
  const [{ customerId }] = await db.query(
    `SELECT payload->'object'->>'customerId' AS "customerId" FROM aqueduct_events ORDER BY received_at DESC LIMIT 1`,
  );
  const filters: [string, Parameters<AqueductEventsService['pageEvents']>[0]][] = [
    ['no filter', {}],
    ['type', { type: 'invoice.paid' }],
    ['status rejected', { status: 'rejected' }],
    ['with dead deliveries', { withDeadDeliveries: true }],
    ['customer', { customerId }],
    [
      'received in one day',
      {
        since: new Date(Date.now() - 30 * 86_400_000),
        until: new Date(Date.now() - 29 * 86_400_000),
      },
    ],
    ['type + customer', { type: 'provisioning.start', customerId }],
  ];
  for (const [name, filter] of filters) {
    const first = await timed(() => events.pageEvents({ ...filter, limit: 50 }));
    let page = first.result;
    let deep = 0;
    for (let i = 0; i < 20 && page.older; i++) {
      const next = await timed(() =>
        events.pageEvents({ ...filter, before: page.older!, limit: 50 }),
      );
      deep = Math.max(deep, next.ms);
      page = next.result;
    }
    const newer = page.newer
      ? (await timed(() => events.pageEvents({ ...filter, after: page.newer!, limit: 50 }))).ms
      : 0;
    console.log(
      `${name.padEnd(22)} first page ${first.ms.toFixed(1)} ms (${first.result.items.length} rows), ` +
        `worst of 20 older pages ${deep.toFixed(1)} ms, a newer page ${newer.toFixed(1)} ms`,
    );
  }
  const backlog = await timed(() => events.backlog());
  console.log(`backlog counts         ${backlog.ms.toFixed(1)} ms`, backlog.result);
  if (process.env.EXPLAIN) {
    const log = db.query.bind(db);
    (db as any).query = async (sql: string, params: unknown[]) => {
      const plan = await log(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params);
      console.log(plan.map((row: any) => row['QUERY PLAN']).join('\n'));
      return log(sql, params);
    };
    for (const [name, filter] of filters) {
      console.log(`--- ${name}`);
      await events.pageEvents({ ...filter, limit: 50 });
    }
  }
  await db.destroy();
}

async function fill(db: DataSource): Promise<void> {
  await db.query(`TRUNCATE aqueduct_events CASCADE`);
  // Received one per ~3 s over the last month; each with two deliveries, mostly done.
  await db.query(
    `INSERT INTO aqueduct_events (id, dedup_key, type, created_at, received_at, payload, headers, status, errors)
     SELECT gen_random_uuid(), 'sha256:' || i, t.type, r.at, r.at,
            jsonb_build_object('type', t.type, 'createdAt', r.at, 'object',
              jsonb_build_object('customerId', 'owner_' || (i % 10000), 'productId', 'prod_' || (i % 7))),
            '{"content-type": "application/json"}', CASE WHEN i % 100 = 0 THEN 'rejected' ELSE 'accepted' END,
            CASE WHEN i % 100 = 0 THEN '["object.productId must be a string"]'::jsonb END
       FROM generate_series(1, $1::int) AS i
       CROSS JOIN LATERAL (SELECT (ARRAY['provisioning.start', 'provisioning.end', 'provisioning.update',
                                         'invoice.paid', 'access.expired'])[1 + i % 5] AS type) t
       CROSS JOIN LATERAL (SELECT now() - (($1::int - i) * interval '2.6 seconds') AS at) r`,
    [EVENTS],
  );
  await db.query(
    `INSERT INTO aqueduct_deliveries (event_id, listener, state, attempts, run_at, created_at, started_at, finished_at, last_error)
     SELECT e.id, l.name, CASE WHEN l.name = 'audit' AND e.dedup_key LIKE '%555' THEN 'dead' ELSE 'done' END, 1,
            e.received_at, e.received_at, e.received_at, e.received_at,
            CASE WHEN l.name = 'audit' AND e.dedup_key LIKE '%555' THEN 'boom' END
       FROM aqueduct_events e CROSS JOIN (VALUES ('aqueduct.provisioning'), ('audit')) AS l(name)
      WHERE e.status = 'accepted'`,
  );
  await db.query(`VACUUM ANALYZE aqueduct_events`);
  await db.query(`VACUUM ANALYZE aqueduct_deliveries`);
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
