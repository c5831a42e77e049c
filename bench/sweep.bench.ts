import 'reflect-metadata';
import { cpus, loadavg } from 'node:os';
import type { INestApplicationContext } from '@nestjs/common';
import { ACCESS_EVENT_TYPES, AccessEventType, ExpiryJob, type SweepResult } from 'nestjs-aqueduct';
import { Client } from 'pg';
import { startInProcessApp } from './support/aqueduct-app';
import type { BenchContext, BenchReport, Benchmark, TextTable } from './support/benchmark';
import { withClient } from './support/database';
import { percentile } from './support/stats';

/**
 * The issue's figures: a ledger of 1,000,000 entitlements, 1,000 of them due at the sweep. An
 * entitlement is now a customer's access to a product: one `aqueduct_access` row per pair.
 */
const ACCESS_ROWS = Number(process.env.BENCH_SWEEP_ROWS ?? 1_000_000);
/** Every DUE_EVERY-th pair is due: 1,000 due rows spread over the whole table, as in real life. */
const DUE_EVERY = ACCESS_ROWS / 1_000;
const DUE = ACCESS_ROWS / DUE_EVERY;
/** Every RENEWED_EVERY-th pair has two consecutive periods of one subscription; the others one. */
const RENEWED_EVERY = 10;
const PROVISIONINGS = ACCESS_ROWS + ACCESS_ROWS / RENEWED_EVERY;
const DAY_S = 86_400;
const PERIOD_S = 365 * DAY_S;
const GRACE_S = 14 * DAY_S;
/** The library's default `access.settleMs` (the bench keeps the defaults), in seconds. */
const SETTLE_S = 4_500;
/** The due pairs' access ended (grace over) 2 h to 2 h 17 min before the seed's clock: settled. */
const ENDED_AGO_S = 7_200;
/** The issue's targets, on this machine. */
const NOTHING_DUE_TARGET_MS = 20;
const DUE_TARGET_MS = 2_000;
/** Nothing-due sweeps: a few unmeasured ones (JIT, pool, caches), then the measured ones. */
const NOTHING_DUE_WARMUP = 3;
const NOTHING_DUE_RUNS = 20;
/** Due sweeps, each from a fresh state (due rows put back, events deleted, tables vacuumed). */
const DUE_RUNS = 3;
/** The bench's own tables: the due rows as seeded (put back before each due run), a sample. */
const DUE_STATE_TABLE = 'bench_sweep_due_state';
const SEED_CHECK_TABLE = 'bench_sweep_seed_check';
/** Tables the due query (with its provisionings) and the UPDATE must reach through an index. */
const BIG_TABLES = ['aqueduct_access', 'aqueduct_provisionings', 'aqueduct_invoice_payments'];

/**
 * The expiry sweep on a big ledger: `ExpiryJob.sweep()` through the library's own code path (a Nest
 * application context with AqueductModule and TypeOrmModule, as a host has), on 1,000,000 access
 * rows and their 1,100,000 provisionings written straight into the tables, when nothing is due
 * and when 1,000 are.
 */
export const sweepBenchmark: Benchmark = {
  name: 'sweep',
  async run(context: BenchContext): Promise<BenchReport> {
    // Booting runs the migrations: the benchmark's database gets the real schema and indexes.
    // The job is called by hand, so its cron is off; no dispatcher runs the deliveries it makes.
    // `access` keeps its defaults: settleMs 4500000 (SETTLE_S), requirePayment false. The job's line
    // per sweep that expired something is not logged (errors and warnings only).
    const { app, close } = await startInProcessApp(context, 'close sweep application context');
    try {
      return await measure(context, app);
    } finally {
      await close();
    }
  },
};

/** One statement as the library sent it, for EXPLAIN, and how long it took. */
interface CapturedQuery {
  sql: string;
  parameters: unknown[];
  ms: number;
}

/** The statements of a sweep batch, as they are named in the notes. */
const STATEMENTS: { label: string; match: RegExp }[] = [
  { label: 'sweep lock', match: /pg_try_advisory_xact_lock/ },
  { label: 'due query (+ provisionings)', match: /FOR UPDATE SKIP LOCKED/ },
  { label: 'access UPDATE', match: /UPDATE aqueduct_access/ },
  { label: 'events + deliveries INSERT', match: /INSERT INTO aqueduct_events/ },
];

async function measure(context: BenchContext, app: INestApplicationContext): Promise<BenchReport> {
  const { databaseUrl } = context;
  const job = app.get(ExpiryJob);
  const notes: string[] = [];
  const warnings: string[] = [];
  // Other work on the machine (tests, builds) shows up as outliers: print how busy it was.
  const loadAtStart = loadavg()[0];

  const written = await withClient(databaseUrl, (client) => writeLedger(context, client));
  // `now` just before the earliest due moment: only what the seed check marks is due then.
  const beforeAnyDue = new Date(written.earliestDue.getTime() - 1_000);
  const seedCheck = await checkSeed(context, job, beforeAnyDue);
  const setup = await withClient(databaseUrl, (client) => settleLedger(client, written.clock));
  notes.push(
    `ledger: ${setup.accessRows} access rows (customer × product), ${setup.provisionings} provisionings (every ${RENEWED_EVERY}th pair renewed once: 2 consecutive yearly periods of one subscription; the others 1), ${setup.payments} invoice payments, written in ${(written.insertMs / 1000).toFixed(1)} s`,
  );
  notes.push(
    `  live pairs: access until 20 days to 1 year from now (half with a 14-day grace period), announced 'active', provisioned; due pairs: ${setup.due} (every ${DUE_EVERY}th pair of the heap, all renewed, in grace, announced 'grace'), whose access ended ${ENDED_AGO_S / 60}-${Math.ceil((ENDED_AGO_S + DUE) / 60)} min before the seed's clock (settleMs: ${SETTLE_S / 60} min), next_check_at = that end`,
  );
  notes.push(
    `  sizes with indexes: aqueduct_access ${setup.accessSize} (partial index aqueduct_access_next_check_idx ${setup.dueIndexSize}), aqueduct_provisionings ${setup.provisioningsSize} (aqueduct_provisionings_customer_product_idx ${setup.pairIndexSize}), aqueduct_invoice_payments ${setup.paymentsSize}`,
  );
  notes.push(
    `seed check: ${seedCheck.rows - seedCheck.dueRows} live pairs (i = 1, 998, 1995, ...) and ${seedCheck.dueRows} due ones (every ${DUE_EVERY * 10}th pair, still in grace then) re-evaluated by ExpiryJob.sweep() at the nothing-due now below (their next_check_at set to -infinity): ${seedCheck.evaluated} evaluated, ${seedCheck.transitions} access.* events, ${seedCheck.differing.length === 0 ? 'every column as seeded' : `differing from the seed: ${seedCheck.differing.join(', ')}`} (evaluated_at, version, updated_at aside); then put back`,
  );
  if (
    seedCheck.evaluated !== seedCheck.rows ||
    seedCheck.transitions !== 0 ||
    seedCheck.differing.length > 0
  ) {
    warnings.push(
      `the seeded rows are not what the ledger writes: ${seedCheck.evaluated}/${seedCheck.rows} evaluated, ${seedCheck.transitions} transitions, differing: ${seedCheck.differing.join(', ') || 'none'}`,
    );
  }
  notes.push(
    `after writing: VACUUM (ANALYZE, INDEX_CLEANUP ON) and CHECKPOINT${setup.checkpointed ? '' : ' (CHECKPOINT refused: a checkpoint may land in a run)'}, as a ledger of that age would be; Postgres ${setup.serverVersion}, autovacuum ${setup.autovacuum}, shared_buffers ${setup.sharedBuffers}`,
  );
  if (
    setup.accessRows !== ACCESS_ROWS ||
    setup.provisionings !== PROVISIONINGS ||
    setup.due !== DUE
  ) {
    warnings.push(
      `expected ${ACCESS_ROWS} access rows, ${PROVISIONINGS} provisionings, ${DUE} due; got ${setup.accessRows} / ${setup.provisionings} / ${setup.due}`,
    );
  }

  // (1) Nothing due: `now` just before the earliest due moment, so the index has nothing to give.
  context.log(`sweep: ${NOTHING_DUE_WARMUP} warm-up + ${NOTHING_DUE_RUNS} nothing-due sweeps`);
  const nothingDueCapture = await captureQueries(() => job.sweep(beforeAnyDue));
  const dueQuery = findQuery(nothingDueCapture.queries, 'due query (+ provisionings)');
  for (let i = 1; i < NOTHING_DUE_WARMUP; i++) {
    await job.sweep(beforeAnyDue);
  }
  const nothingDue = await timeSweeps(job, NOTHING_DUE_RUNS, beforeAnyDue, warnings);
  const nothingDuePlan = await withClient(databaseUrl, (client) => explain(client, dueQuery));
  notes.push(
    `EXPLAIN (ANALYZE, BUFFERS) of the due query (SELECT ... FOR UPDATE SKIP LOCKED, each row's provisionings as JSON), nothing due:`,
  );
  notes.push(...nothingDuePlan.lines);
  flagSeqScans('nothing-due sweep, due query', nothingDuePlan, warnings);

  // (2) One unmeasured due sweep, its statements captured and timed; put back before run 1.
  context.log('sweep: one unmeasured due sweep (statements captured)');
  const warmDue = await captureQueries(() => job.sweep());
  if (warmDue.result.expired !== DUE) {
    warnings.push(`unmeasured due sweep: expired ${warmDue.result.expired}, expected ${DUE}`);
  }
  const updateQuery = findQuery(warmDue.queries, 'access UPDATE');
  notes.push(
    `unmeasured due sweep (statements captured and timed; not counted below): ${warmDue.ms.toFixed(1)} ms, ${warmDue.result.batches} batches; ${statementTimes(warmDue)}`,
  );

  // (3) 1,000 due, from a fresh state each time; then the sweep right after, with nothing left due.
  const dueRuns: DueRun[] = [];
  for (let run = 1; run <= DUE_RUNS; run++) {
    await withClient(databaseUrl, async (client) => {
      await restoreDueRows(client);
      await vacuumSweptTables(client);
      if (run === 1) {
        // On the state the runs start from; rolled back, and vacuumed again for the measured sweep.
        const plans: [string, CapturedQuery][] = [
          [
            'the due query with its provisionings, 1,000 due (real clock)',
            { ...dueQuery, parameters: [new Date(), ...dueQuery.parameters.slice(1)] },
          ],
          [`the access UPDATE ... FROM jsonb_to_recordset, first batch`, updateQuery],
        ];
        for (const [label, query] of plans) {
          const plan = await explain(client, query);
          notes.push(`EXPLAIN (ANALYZE, BUFFERS) of ${label}, rolled back:`);
          notes.push(...plan.lines);
          flagSeqScans(`due sweep, ${label}`, plan, warnings);
        }
        await vacuumSweptTables(client);
      }
    });
    context.log(`sweep: due sweep ${run}/${DUE_RUNS}`);
    const startMs = performance.now();
    const result = await job.sweep();
    const ms = performance.now() - startMs;
    const afterStartMs = performance.now();
    const after = await job.sweep();
    const afterMs = performance.now() - afterStartMs;
    const stored = await withClient(databaseUrl, (client) => countSweepRows(client));
    dueRuns.push({ run, ms, afterMs, result, after, ...stored });
  }
  checkDueRuns(dueRuns, warnings);

  // (4) Nothing due with the real clock, as most cron ticks are: after the due sweeps, no VACUUM.
  context.log(`sweep: ${NOTHING_DUE_RUNS} nothing-due sweeps with the real clock`);
  const realClock = await timeSweeps(job, NOTHING_DUE_RUNS, undefined, warnings);

  const listeners = dueRuns[0]?.listeners ?? [];
  notes.push(
    `access.expired listeners (one delivery each per event): ${listeners.join(', ') || 'none'}; expiry.batchSize: the default (500), so 1,000 due rows take 3 batches (500, 500, 0), each one transaction`,
  );
  notes.push(
    'times are ExpiryJob.sweep() as awaited by the caller (TypeORM pool, round trips, every batch), performance.now()',
  );
  notes.push(
    `met: nothing due on the median (the statement itself is the EXPLAIN above; slow outliers are the machine's scheduling, see the load), ${DUE} due on the slowest run; load average ${loadAtStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end, ${cpus().length} CPU(s)`,
  );
  const nothingDueRow = (label: string, times: number[]) =>
    summaryRow(
      label,
      times,
      `< ${NOTHING_DUE_TARGET_MS} ms (median)`,
      percentile(times, 0.5),
      NOTHING_DUE_TARGET_MS,
    );
  const dueTimes = dueRuns.map((run) => run.ms);
  const summary: TextTable = {
    header: ['sweep', 'runs', 'min ms', 'median ms', 'p95 ms', 'max ms', 'target', 'met'],
    rows: [
      nothingDueRow('nothing due (now before every due moment)', nothingDue),
      nothingDueRow('nothing due (real clock, after the due sweeps)', realClock),
      nothingDueRow(
        'nothing due (first sweep after a due sweep)',
        dueRuns.map((run) => run.afterMs),
      ),
      summaryRow(
        `${DUE} due (fresh state each run)`,
        dueTimes,
        `< ${DUE_TARGET_MS} ms (max)`,
        Math.max(...dueTimes),
        DUE_TARGET_MS,
      ),
    ],
  };
  const perRun: TextTable = {
    header: [
      'due sweep',
      'ms',
      'batches',
      'evaluated',
      'expired',
      'other access.*',
      'events',
      'deliveries',
      'rows expired',
    ],
    rows: dueRuns.map((run) => [
      `run ${run.run}`,
      run.ms.toFixed(1),
      String(run.result.batches),
      String(run.result.evaluated),
      String(run.result.expired),
      String(otherTransitions(run.result)),
      String(run.events),
      String(run.deliveries),
      String(run.rowsExpired),
    ]),
  };
  const rows = ACCESS_ROWS.toLocaleString('en');
  return {
    title: `sweep: ExpiryJob.sweep() on ${rows} entitlements (customer × product access rows), ${DUE.toLocaleString('en')} due`,
    rows: [],
    tables: [summary, perRun],
    summary: [
      {
        metric: `sweep: nothing due, median ms (${rows} access rows)`,
        value: percentile(nothingDue, 0.5).toFixed(1),
        target: `< ${NOTHING_DUE_TARGET_MS} ms`,
        met: percentile(nothingDue, 0.5) < NOTHING_DUE_TARGET_MS,
      },
      {
        metric: `sweep: ${DUE.toLocaleString('en')} due, median / max ms`,
        value: `${percentile(dueTimes, 0.5).toFixed(1)} / ${Math.max(...dueTimes).toFixed(1)}`,
        target: `< ${DUE_TARGET_MS} ms`,
        met: Math.max(...dueTimes) < DUE_TARGET_MS,
      },
    ],
    notes,
    warnings,
  };
}

/**
 * One pair per i, in heap order: customer and product (a customer with up to three products), and
 * the start `s` (epoch seconds from $1, the seed's clock) of its latest period, which lasts a year.
 * A live pair's latest period started 15 days to 11 months ago, so every other boundary (a renewed
 * pair's first grace period) is in the past and the next one is at least 20 days ahead. A due pair
 * (every $3-th) is renewed and in grace, and its grace period ended $5 + i / $3 seconds ago.
 * Half the pairs, and every due one, have a 14-day grace period.
 */
const PAIRS_SQL = `
SELECT i, due, renewed, grace, s, lpad(i::text, 7, '0') AS n,
       'owner_' || lpad((i % 350000)::text, 6, '0') AS customer_id,
       'prod_' || (i / 350000) AS product_id
  FROM generate_series(1, $2::int) AS i,
       LATERAL (SELECT i % $3::int = 0 AS due, i % $4::int = 0 AS renewed) AS f,
       LATERAL (SELECT due OR i % 2 = 0 AS grace,
                       CASE WHEN due THEN $1::bigint - $5::int - i / $3::int - ${PERIOD_S + GRACE_S}
                            ELSE $1::bigint - (15 + i % 330) * ${DAY_S} - i % ${DAY_S} END AS s) AS d`;

/** Each pair's orgs: one org with one user, the same in every period (a renewal repeats them). */
const ORGS_SQL = `jsonb_build_array(jsonb_build_object(
             'name', 'Org ' || i,
             'users', jsonb_build_array(jsonb_build_object(
               'name', 'User ' || i, 'email', 'user' || i || '@example.com'))))`;

/** Epoch seconds as JavaScript's `toISOString()` writes them, the form timelines are stored in. */
const iso = (seconds: string) =>
  `to_char(to_timestamp(${seconds}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The provisionings: every pair's first period (its only one, unless renewed), then the renewed
 * pairs' second periods, so a renewal sits far from its first period in the heap, as it would a
 * year later. Keys as `provisioningKey()` makes them from an id; one invoice per period. A period
 * that has ended was last told by its `provisioning.end`.
 */
const SEED_PROVISIONINGS_SQL = `
INSERT INTO aqueduct_provisionings
  (id, key, provisioning_id, customer_id, product_id, subscription_id, invoice_id, start_date,
   end_date, grace_period_end_date, access_until, orgs, last_event_id, last_event_type,
   last_event_at, last_event_rank, created_at, updated_at)
SELECT md5('provisioning:' || pid)::uuid, 'id:' || pid, pid, customer_id, product_id,
       'sub_' || n, 'in_' || n || '_' || period,
       to_timestamp(start_s), to_timestamp(start_s + ${PERIOD_S}),
       CASE WHEN grace THEN to_timestamp(start_s + ${PERIOD_S + GRACE_S}) END,
       to_timestamp(start_s + ${PERIOD_S} + CASE WHEN grace THEN ${GRACE_S} ELSE 0 END),
       orgs, md5('event:' || pid)::uuid,
       CASE WHEN ended THEN 'provisioning.end' ELSE 'provisioning.start' END,
       to_timestamp(CASE WHEN ended THEN start_s + ${PERIOD_S} ELSE start_s END),
       CASE WHEN ended THEN 2 ELSE 0 END,
       to_timestamp(start_s),
       to_timestamp(CASE WHEN ended THEN start_s + ${PERIOD_S} ELSE start_s END)
  FROM (
    SELECT *, 'prov_' || n || '_' || period AS pid, start_s + ${PERIOD_S} <= $1::bigint AS ended,
           ${ORGS_SQL} AS orgs
      FROM (
        SELECT p.*, 1 AS period, CASE WHEN renewed THEN s - ${PERIOD_S} ELSE s END AS start_s
          FROM (${PAIRS_SQL}) AS p
        UNION ALL
        SELECT p.*, 2, s FROM (${PAIRS_SQL}) AS p WHERE renewed
      ) AS periods
    OFFSET 0 -- computes orgs once per row, not once per column that uses it
  ) AS r`;

/** Every invoice was paid when its period started (payments are recorded whatever requirePayment). */
const SEED_PAYMENTS_SQL = `
INSERT INTO aqueduct_invoice_payments (invoice_id, paid_at, event_id, created_at)
SELECT invoice_id, start_date, md5('payment:' || invoice_id)::uuid, start_date
  FROM aqueduct_provisionings`;

/**
 * The access rows, as the ledger left them at its last evaluation. A live pair: one `active`
 * segment over its periods (a renewal on time joins them), then the grace period if any; announced
 * `access.started` (and `access.renewed` for a renewal), provisioned with its orgs; next_check_at
 * is the paid period's end, the next boundary. A due pair was last evaluated once its grace notice
 * had settled: status and announced `grace`, next_check_at its access's end.
 */
const SEED_ACCESS_SQL = `
INSERT INTO aqueduct_access
  (id, customer_id, product_id, status, has_access, since, access_until, paid_until, orgs, timeline,
   awaiting_payment, next_check_at, evaluated_at, announced_status, announced_until, announced_orgs,
   announce_seq, last_transition, provisioned, provisioned_orgs, adapter_seq, version, created_at,
   updated_at)
SELECT md5('access:' || i)::uuid, customer_id, product_id, status, true,
       to_timestamp(since_s), to_timestamp(until_s), to_timestamp(paid_s), orgs,
       jsonb_build_array(jsonb_build_object(
         'from', ${iso('since_s')}, 'until', ${iso('paid_s')}, 'status', 'active'))
         || CASE WHEN grace THEN jsonb_build_array(jsonb_build_object(
              'from', ${iso('paid_s')}, 'until', ${iso('until_s')}, 'status', 'grace'))
            ELSE '[]'::jsonb END,
       false, to_timestamp(CASE WHEN due THEN until_s ELSE paid_s END), to_timestamp(evaluated_s),
       status, to_timestamp(until_s), orgs, seq,
       CASE WHEN due THEN 'access.grace' WHEN renewed THEN 'access.renewed' ELSE 'access.started' END,
       true, orgs, 1, seq, to_timestamp(since_s), to_timestamp(evaluated_s)
  FROM (
    SELECT p.*, w.*, ${ORGS_SQL} AS orgs,
           CASE WHEN due THEN 'grace' ELSE 'active' END AS status,
           1 + renewed::int + due::int AS seq,
           -- The last evaluation: the grace notice (due), else the last boundary passed.
           CASE WHEN due THEN w.paid_s + ${SETTLE_S}
                WHEN renewed AND grace THEN s + ${GRACE_S} ELSE s END AS evaluated_s
      FROM (${PAIRS_SQL}) AS p,
           LATERAL (SELECT CASE WHEN renewed THEN s - ${PERIOD_S} ELSE s END AS since_s,
                           s + ${PERIOD_S} AS paid_s,
                           s + ${PERIOD_S} + CASE WHEN grace THEN ${GRACE_S} ELSE 0 END AS until_s) AS w
    OFFSET 0 -- computes orgs once per row, not once per column that uses it
  ) AS a`;

interface WrittenLedger {
  clock: number;
  insertMs: number;
  earliestDue: Date;
}

/** Writes the provisionings, their payments and the access rows, set-based. */
async function writeLedger(context: BenchContext, client: Client): Promise<WrittenLedger> {
  // Whole seconds, so every date has the millisecond precision the library's dates have.
  const clock = Math.floor(Date.now() / 1000);
  const parameters = [clock, ACCESS_ROWS, DUE_EVERY, RENEWED_EVERY, ENDED_AGO_S];
  context.log(
    `sweep: writing ${PROVISIONINGS} provisionings, their payments, ${ACCESS_ROWS} access rows`,
  );
  const startMs = performance.now();
  await client.query(SEED_PROVISIONINGS_SQL, parameters);
  await client.query(SEED_PAYMENTS_SQL);
  await client.query(SEED_ACCESS_SQL, parameters);
  const insertMs = performance.now() - startMs;
  context.log(`sweep: written in ${(insertMs / 1000).toFixed(1)} s`);
  const earliest = await client.query<{ at: Date }>(
    'SELECT min(next_check_at) AS at FROM aqueduct_access',
  );
  return { clock, insertMs, earliestDue: earliest.rows[0].at };
}

interface SeedCheck {
  rows: number;
  /** Of which due pairs (in grace), evaluated before their access ends. */
  dueRows: number;
  evaluated: number;
  transitions: number;
  /** `column (n rows)` for each column the ledger wrote otherwise than seeded. */
  differing: string[];
}

/**
 * Whether the seed is what the ledger writes: a sample of ~1,000 live pairs (single and renewed,
 * with and without grace) and 100 due ones made due, swept by the library at `now` (after every
 * live pair's last boundary, before any due pair's access ends: nothing changes for either), then
 * compared column by column with what was seeded, and put back.
 */
async function checkSeed(context: BenchContext, job: ExpiryJob, now: Date): Promise<SeedCheck> {
  context.log('sweep: seed check');
  const url = context.databaseUrl;
  await withClient(url, async (client) => {
    await client.query(
      `CREATE TABLE ${SEED_CHECK_TABLE} AS
       SELECT a.* FROM aqueduct_access a
        WHERE a.id IN (SELECT md5('access:' || i)::uuid
                         FROM generate_series(1, $1::int) AS i
                        WHERE i % 997 = 1 OR i % ($2::int * 10) = 0)`,
      [ACCESS_ROWS, DUE_EVERY],
    );
    await client.query(
      `UPDATE aqueduct_access a SET next_check_at = '-infinity'
         FROM ${SEED_CHECK_TABLE} s WHERE a.id = s.id`,
    );
  });
  const result = await job.sweep(now);
  return withClient(url, async (client) => {
    const columns = (await accessColumns(client)).filter(
      (column) => !['evaluated_at', 'version', 'updated_at'].includes(column),
    );
    const compared = await client.query<Record<string, number>>(
      `SELECT count(*)::int AS "#rows", count(*) FILTER (WHERE s.status = 'grace')::int AS "#due",
              ${columns.map((c) => `count(*) FILTER (WHERE a."${c}" IS DISTINCT FROM s."${c}")::int AS "${c}"`).join(',\n')}
         FROM ${SEED_CHECK_TABLE} s JOIN aqueduct_access a USING (id)`,
    );
    const counts = compared.rows[0];
    await restoreFrom(client, SEED_CHECK_TABLE);
    await client.query(`DROP TABLE ${SEED_CHECK_TABLE}`);
    return {
      rows: counts['#rows'],
      dueRows: counts['#due'],
      evaluated: result.evaluated,
      transitions: Object.values(result.transitions).reduce((sum, n) => sum + n, 0),
      differing: columns.filter((c) => counts[c] > 0).map((c) => `${c} (${counts[c]} rows)`),
    };
  });
}

interface LedgerSetup {
  accessRows: number;
  provisionings: number;
  payments: number;
  due: number;
  accessSize: string;
  dueIndexSize: string;
  provisioningsSize: string;
  pairIndexSize: string;
  paymentsSize: string;
  checkpointed: boolean;
  serverVersion: string;
  autovacuum: string;
  sharedBuffers: string;
}

/** VACUUM, CHECKPOINT, and the due rows kept as seeded (DUE_STATE_TABLE) to put them back. */
async function settleLedger(client: Client, clock: number): Promise<LedgerSetup> {
  await client.query(
    'VACUUM (ANALYZE, INDEX_CLEANUP ON) aqueduct_provisionings, aqueduct_invoice_payments, aqueduct_access',
  );
  let checkpointed = true;
  try {
    await client.query('CHECKPOINT');
  } catch {
    checkpointed = false;
  }
  await client.query(
    `CREATE TABLE ${DUE_STATE_TABLE} AS
     SELECT * FROM aqueduct_access WHERE next_check_at <= to_timestamp($1) ORDER BY next_check_at`,
    [clock],
  );
  const counts = await client.query<{
    access_rows: number;
    provisionings: number;
    payments: number;
    due: number;
  }>(
    `SELECT (SELECT count(*) FROM aqueduct_access)::int AS access_rows,
            (SELECT count(*) FROM aqueduct_provisionings)::int AS provisionings,
            (SELECT count(*) FROM aqueduct_invoice_payments)::int AS payments,
            (SELECT count(*) FROM ${DUE_STATE_TABLE})::int AS due`,
  );
  const sizes = await client.query<Record<string, string>>(
    `SELECT pg_size_pretty(pg_total_relation_size('aqueduct_access')) AS access,
            pg_size_pretty(pg_relation_size('aqueduct_access_next_check_idx')) AS due_index,
            pg_size_pretty(pg_total_relation_size('aqueduct_provisionings')) AS provisionings,
            pg_size_pretty(pg_relation_size('aqueduct_provisionings_customer_product_idx')) AS pair_index,
            pg_size_pretty(pg_total_relation_size('aqueduct_invoice_payments')) AS payments`,
  );
  const [count] = counts.rows;
  const [size] = sizes.rows;
  return {
    accessRows: count.access_rows,
    provisionings: count.provisionings,
    payments: count.payments,
    due: count.due,
    accessSize: size.access,
    dueIndexSize: size.due_index,
    provisioningsSize: size.provisionings,
    pairIndexSize: size.pair_index,
    paymentsSize: size.payments,
    checkpointed,
    serverVersion: await show(client, 'server_version'),
    autovacuum: await show(client, 'autovacuum'),
    sharedBuffers: await show(client, 'shared_buffers'),
  };
}

async function show(client: Client, setting: string): Promise<string> {
  const result = await client.query<Record<string, string>>(`SHOW ${setting}`);
  return Object.values(result.rows[0])[0];
}

/** aqueduct_access's columns but its id, as the migrations made them. */
async function accessColumns(client: Client): Promise<string[]> {
  const result = await client.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = 'aqueduct_access' AND column_name <> 'id'
      ORDER BY ordinal_position`,
  );
  return result.rows.map((row) => row.column_name);
}

/** Puts the rows of a copy of aqueduct_access back as they are in the copy, every column. */
async function restoreFrom(client: Client, table: string): Promise<void> {
  const columns = (await accessColumns(client)).map((column) => `"${column}"`);
  await client.query(
    `UPDATE aqueduct_access a SET (${columns.join(', ')}) = (${columns.map((c) => `s.${c}`).join(', ')})
       FROM ${table} s WHERE a.id = s.id`,
  );
}

/**
 * VACUUM (ANALYZE) of what a sweep writes. INDEX_CLEANUP ON: with a few thousand dead rows among a
 * million, VACUUM would skip the indexes, and each run would find the previous runs' dead entries in
 * aqueduct_access_next_check_idx.
 */
async function vacuumSweptTables(client: Client): Promise<void> {
  await client.query(
    'VACUUM (ANALYZE, INDEX_CLEANUP ON) aqueduct_access, aqueduct_events, aqueduct_deliveries',
  );
}

/** Puts the due rows back as they were seeded, and removes the access.* events a sweep wrote. */
async function restoreDueRows(client: Client): Promise<void> {
  await restoreFrom(client, DUE_STATE_TABLE);
  // The deliveries go with their events (ON DELETE CASCADE).
  await client.query('DELETE FROM aqueduct_events WHERE type = ANY($1::text[])', [
    ACCESS_EVENT_TYPES,
  ]);
}

interface Captured {
  result: SweepResult;
  ms: number;
  queries: CapturedQuery[];
}

/**
 * Runs `fn` (a sweep) while recording every statement sent to Postgres (`pg`'s `Client.query`, which
 * TypeORM and the ledger's own simple queries go through), with its parameters and time, so EXPLAIN
 * looks at exactly what the job runs. A simple query of several statements (a transaction's start
 * with its lock, a last write with the commit) is recorded as its statements, values written in;
 * its time goes to those other than START TRANSACTION and COMMIT. Not used in measured runs.
 */
async function captureQueries(fn: () => Promise<SweepResult>): Promise<Captured> {
  const queries: CapturedQuery[] = [];
  const original = Client.prototype.query;
  Client.prototype.query = async function (this: Client, ...args: unknown[]) {
    const [config, values] = args as [string | { text: string; values?: unknown[] }, unknown];
    const sql = typeof config === 'string' ? config : config.text;
    const parameters = Array.isArray(values)
      ? values
      : (typeof config === 'object' && config.values) || [];
    const startMs = performance.now();
    try {
      return await (original as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    } finally {
      const ms = performance.now() - startMs;
      const statements = sql.split(';\n');
      const work = statements.filter((text) => !/^(START TRANSACTION|COMMIT)$/.test(text.trim()));
      for (const text of work) {
        queries.push({
          sql: text,
          parameters: statements.length > 1 ? [] : parameters,
          ms: ms / work.length,
        });
      }
    }
  } as typeof Client.prototype.query;
  const startMs = performance.now();
  try {
    const result = await fn();
    return { result, ms: performance.now() - startMs, queries };
  } finally {
    Client.prototype.query = original;
  }
}

function statementLabel(sql: string): string {
  return STATEMENTS.find((statement) => statement.match.test(sql))?.label ?? 'other';
}

/** The first statement of that kind the sweep sent. */
function findQuery(queries: CapturedQuery[], label: string): CapturedQuery {
  const found = queries.find((query) => statementLabel(query.sql) === label);
  if (!found) {
    throw new Error(`the sweep sent no ${label}`);
  }
  return found;
}

/** `label n× total ms` for each kind of statement, and what the statements leave of the sweep. */
function statementTimes(captured: Captured): string {
  const byLabel = new Map<string, { count: number; ms: number }>();
  for (const query of captured.queries) {
    const label = statementLabel(query.sql);
    const entry = byLabel.get(label) ?? { count: 0, ms: 0 };
    entry.count++;
    entry.ms += query.ms;
    byLabel.set(label, entry);
  }
  const inStatements = captured.queries.reduce((sum, query) => sum + query.ms, 0);
  return [
    ...[...byLabel].map(([label, { count, ms }]) => `${label} ${count}× ${ms.toFixed(1)} ms`),
    `the rest (evaluation in TypeScript, BEGIN/COMMIT, pool) ${(captured.ms - inStatements).toFixed(1)} ms`,
  ].join(', ');
}

function timeSweepOnce(job: ExpiryJob, now: Date | undefined) {
  const startMs = performance.now();
  return job.sweep(now).then((result) => ({ result, ms: performance.now() - startMs }));
}

async function timeSweeps(
  job: ExpiryJob,
  runs: number,
  now: Date | undefined,
  warnings: string[],
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { result, ms } = await timeSweepOnce(job, now);
    if (!result.ran || result.evaluated > 0) {
      warnings.push(
        `a nothing-due sweep ${result.ran ? `evaluated ${result.evaluated} rows` : 'did not get the lock'}`,
      );
    }
    times.push(ms);
  }
  return times;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Function Name'?: string;
  'Join Type'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Actual Total Time'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

interface ExplainOutput {
  Plan: PlanNode;
  'Planning Time': number;
  'Execution Time': number;
}

interface PlanSummary {
  /** The plan, one node a line, then the statement's totals: ready to print as notes. */
  lines: string[];
  /** `Seq Scan on <table>` for each sequential scan of one of BIG_TABLES. */
  seqScans: string[];
}

/** EXPLAIN (ANALYZE, BUFFERS) of a captured statement, in a transaction that is rolled back. */
async function explain(client: Client, query: CapturedQuery): Promise<PlanSummary> {
  await client.query('BEGIN');
  try {
    const result = await client.query<{ 'QUERY PLAN': ExplainOutput[] }>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${query.sql}`,
      query.parameters,
    );
    return summarisePlan(result.rows[0]['QUERY PLAN'][0]);
  } finally {
    await client.query('ROLLBACK');
  }
}

function summarisePlan(output: ExplainOutput): PlanSummary {
  const lines: string[] = [];
  const render = (node: PlanNode, depth: number) => {
    const what = [
      node['Node Type'],
      node['Join Type'] && node['Node Type'].includes('Join') ? `(${node['Join Type']})` : '',
      node['Index Name'] ? `using ${node['Index Name']}` : '',
      node['Relation Name'] ? `on ${node['Relation Name']}` : '',
      node['Function Name'] ? `on ${node['Function Name']}()` : '',
    ].filter(Boolean);
    lines.push(
      `  ${'  '.repeat(depth)}${depth > 0 ? '-> ' : ''}${what.join(' ')}: rows ${node['Actual Rows']} x ${node['Actual Loops']} loops, ${node['Actual Total Time']?.toFixed(3)} ms, buffers hit ${node['Shared Hit Blocks']} read ${node['Shared Read Blocks']}`,
    );
    (node.Plans ?? []).forEach((child) => render(child, depth + 1));
  };
  render(output.Plan, 0);
  lines.push(
    `  whole statement: planning ${output['Planning Time'].toFixed(3)} ms, execution ${output['Execution Time'].toFixed(3)} ms`,
  );
  const seqScans = findNodes(
    output.Plan,
    (n) => n['Node Type'] === 'Seq Scan' && BIG_TABLES.includes(n['Relation Name'] ?? ''),
  ).map((n) => `Seq Scan on ${n['Relation Name']} (rows ${n['Actual Rows']})`);
  return { lines, seqScans };
}

function flagSeqScans(label: string, plan: PlanSummary, warnings: string[]): void {
  if (plan.seqScans.length > 0) {
    warnings.push(`${label}: ${plan.seqScans.join(', ')}`);
  }
}

function findNodes(node: PlanNode, match: (node: PlanNode) => boolean): PlanNode[] {
  return [
    ...(match(node) ? [node] : []),
    ...(node.Plans ?? []).flatMap((child) => findNodes(child, match)),
  ];
}

interface DueRun {
  run: number;
  ms: number;
  result: SweepResult;
  /** The sweep right after, with nothing due any more. */
  afterMs: number;
  after: SweepResult;
  /** `access.expired` events, and the other `access.*` events (there should be none). */
  events: number;
  otherEvents: number;
  /** `access.expired` events whose `at` is the due row's seeded end of access. */
  eventsAtEnd: number;
  deliveries: number;
  listeners: string[];
  /** Due rows now expired, announced so, with nothing left to check. */
  rowsExpired: number;
}

function otherTransitions(result: SweepResult): number {
  return Object.entries(result.transitions)
    .filter(([type]) => type !== AccessEventType.Expired)
    .reduce((sum, [, n]) => sum + n, 0);
}

async function countSweepRows(
  client: Client,
): Promise<
  Pick<
    DueRun,
    'events' | 'otherEvents' | 'eventsAtEnd' | 'deliveries' | 'listeners' | 'rowsExpired'
  >
> {
  const events = await client.query<{
    events: number;
    other_events: number;
    deliveries: number;
    listeners: string[];
  }>(
    `SELECT count(DISTINCT ev.id) FILTER (WHERE ev.type = $1)::int AS events,
            count(DISTINCT ev.id) FILTER (WHERE ev.type <> $1)::int AS other_events,
            count(d.event_id)::int AS deliveries,
            coalesce(array_agg(DISTINCT d.listener) FILTER (WHERE d.listener IS NOT NULL), '{}') AS listeners
       FROM aqueduct_events ev
       LEFT JOIN aqueduct_deliveries d ON d.event_id = ev.id
      WHERE ev.type = ANY($2::text[])`,
    [AccessEventType.Expired, ACCESS_EVENT_TYPES],
  );
  const atEnd = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n
       FROM aqueduct_events ev
       JOIN ${DUE_STATE_TABLE} s ON s.id = (ev.payload -> 'object' ->> 'accessId')::uuid
      WHERE ev.type = $1 AND (ev.payload -> 'object' ->> 'at')::timestamptz = s.access_until`,
    [AccessEventType.Expired],
  );
  const rows = await client.query<{ expired: number }>(
    `SELECT count(*)::int AS expired
       FROM aqueduct_access a JOIN ${DUE_STATE_TABLE} s USING (id)
      WHERE a.status = 'expired' AND NOT a.has_access AND a.announced_status = 'expired'
        AND a.next_check_at IS NULL`,
  );
  const [row] = events.rows;
  return {
    events: row.events,
    otherEvents: row.other_events,
    eventsAtEnd: atEnd.rows[0].n,
    deliveries: row.deliveries,
    listeners: row.listeners,
    rowsExpired: rows.rows[0].expired,
  };
}

function checkDueRuns(runs: DueRun[], warnings: string[]): void {
  for (const run of runs) {
    const { result } = run;
    if (
      !result.ran ||
      result.evaluated !== DUE ||
      result.expired !== DUE ||
      otherTransitions(result) !== 0 ||
      run.events !== DUE ||
      run.otherEvents !== 0 ||
      run.eventsAtEnd !== DUE ||
      run.rowsExpired !== DUE
    ) {
      warnings.push(
        `due sweep ${run.run}: evaluated ${result.evaluated}, transitions ${JSON.stringify(result.transitions)}, access.expired events ${run.events} (${run.eventsAtEnd} at the access's end), other access.* events ${run.otherEvents}, rows expired ${run.rowsExpired}; expected ${DUE} expired of each, nothing else`,
      );
    }
    if (run.deliveries !== (run.events + run.otherEvents) * run.listeners.length) {
      warnings.push(
        `due sweep ${run.run}: ${run.deliveries} deliveries for ${run.events + run.otherEvents} events and ${run.listeners.length} listeners`,
      );
    }
    if (!run.after.ran || run.after.evaluated !== 0) {
      warnings.push(
        `due sweep ${run.run}: the sweep right after evaluated ${run.after.evaluated} more`,
      );
    }
  }
}

function summaryRow(
  label: string,
  times: number[],
  target: string,
  judged: number,
  limitMs: number,
): string[] {
  return [
    label,
    String(times.length),
    Math.min(...times).toFixed(1),
    percentile(times, 0.5).toFixed(1),
    percentile(times, 0.95).toFixed(1),
    Math.max(...times).toFixed(1),
    target,
    judged < limitMs ? 'yes' : 'NO',
  ];
}
