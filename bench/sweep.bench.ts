import 'reflect-metadata';
import { cpus, loadavg } from 'node:os';
import { type DynamicModule, type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccessEventType, AqueductModule, ExpiryJob, aqueductMigrations } from 'nestjs-aqueduct';
import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { BenchContext, BenchReport, Benchmark, TextTable } from './support/benchmark';
import { once } from './support/cleanup';
import { withClient } from './support/database';
import { percentile } from './support/stats';

/** The issue's figures: a ledger of 1,000,000 entitlements, 1,000 of them due at the sweep. */
const ENTITLEMENTS = 1_000_000;
/** Every DUE_EVERY-th row is due: 1,000 due rows spread over the whole table, as in real life. */
const DUE_EVERY = 1_000;
const DUE = ENTITLEMENTS / DUE_EVERY;
/** The issue's targets, on this machine. */
const NOTHING_DUE_TARGET_MS = 20;
const DUE_TARGET_MS = 2_000;
/** Nothing-due sweeps: a few unmeasured ones (JIT, pool, caches), then the measured ones. */
const NOTHING_DUE_WARMUP = 3;
const NOTHING_DUE_RUNS = 20;
/** Due sweeps, each from a fresh state (due rows put back, events deleted, tables vacuumed). */
const DUE_RUNS = 3;

/**
 * The expiry sweep on a big ledger: `ExpiryJob.sweep()` through the library's own code path (a Nest
 * application context with AqueductModule and TypeOrmModule, as a host has), on 1,000,000
 * entitlements written straight into aqueduct_entitlements, when nothing is due and when 1,000 are.
 */
export const sweepBenchmark: Benchmark = {
  name: 'sweep',
  async run(context: BenchContext): Promise<BenchReport> {
    // Booting runs the migrations: the benchmark's database gets the real schema and indexes.
    const app = await NestFactory.createApplicationContext(
      SweepBenchModule.forRoot(context.databaseUrl),
      // The job logs a line per sweep that expired something: keep the output to the report.
      { logger: ['error', 'warn'] },
    );
    const close = once(() => app.close());
    context.cleanup.defer('close sweep application context', close);
    try {
      return await measure(context, app);
    } finally {
      await close();
    }
  },
};

@Module({})
class SweepBenchModule {
  static forRoot(databaseUrl: string): DynamicModule {
    return {
      module: SweepBenchModule,
      imports: [
        // Same settings as bench-server.ts and the example app, default pool size included.
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: databaseUrl,
          autoLoadEntities: true,
          migrations: [...aqueductMigrations],
          migrationsRun: true,
        }),
        // The job is called by hand, so its cron is off; no dispatcher runs the deliveries it makes.
        AqueductModule.forRoot({
          secrets: ['bench'],
          dispatch: { enabled: false },
          expiry: { enabled: false },
        }),
      ],
    };
  }
}

/** One statement as the library sent it, for EXPLAIN. */
interface CapturedQuery {
  sql: string;
  parameters: unknown[];
}

async function measure(context: BenchContext, app: INestApplicationContext): Promise<BenchReport> {
  const { databaseUrl } = context;
  const job = app.get(ExpiryJob);
  const dataSource = app.get(DataSource);
  const notes: string[] = [];
  const warnings: string[] = [];
  // Other work on the machine (tests, builds) shows up as outliers: print how busy it was.
  const loadAtStart = loadavg()[0];

  const setup = await withClient(databaseUrl, (client) => seedLedger(context, client));
  notes.push(
    `ledger: ${setup.rows} entitlements (${setup.due} due, every ${DUE_EVERY}th row of the heap; the others active until 1-13 months from now), written in ${(setup.insertMs / 1000).toFixed(1)} s; aqueduct_entitlements ${setup.tableSize} with indexes, partial index aqueduct_entitlements_due_idx ${setup.dueIndexSize}`,
  );
  notes.push(
    `after writing: VACUUM (ANALYZE) and CHECKPOINT${setup.checkpointed ? '' : ' (CHECKPOINT refused: a checkpoint may land in a run)'}, as a ledger of that age would be; Postgres ${setup.serverVersion}, autovacuum ${setup.autovacuum}, shared_buffers ${setup.sharedBuffers}`,
  );
  if (setup.rows !== ENTITLEMENTS || setup.due !== DUE) {
    warnings.push(
      `expected ${ENTITLEMENTS} rows of which ${DUE} due, got ${setup.rows} / ${setup.due}`,
    );
  }

  // (1) Nothing due: `now` just before the earliest due date, so the index has nothing to give.
  const beforeAnyDue = new Date(setup.earliestDue.getTime() - 1_000);
  context.log(`sweep: ${NOTHING_DUE_WARMUP} warm-up + ${NOTHING_DUE_RUNS} nothing-due sweeps`);
  const nothingDueSql = await captureQuery(dataSource, () => job.sweep(beforeAnyDue));
  for (let i = 1; i < NOTHING_DUE_WARMUP; i++) {
    await job.sweep(beforeAnyDue);
  }
  const nothingDue = await timeSweeps(job, NOTHING_DUE_RUNS, beforeAnyDue, warnings);
  const nothingDuePlan = await withClient(databaseUrl, (client) => explain(client, nothingDueSql));
  notes.push(
    `EXPLAIN (ANALYZE, BUFFERS) of the sweep statement, nothing due: ${nothingDuePlan.due}`,
  );
  notes.push(`  ${nothingDuePlan.totals}`);
  if (nothingDuePlan.seqScan) {
    warnings.push(`nothing-due sweep: a Seq Scan on aqueduct_entitlements (${nothingDuePlan.due})`);
  }

  // (2) 1,000 due, from a fresh state each time; then the sweep right after, with nothing left due.
  const dueRuns: DueRun[] = [];
  for (let run = 1; run <= DUE_RUNS; run++) {
    await withClient(databaseUrl, async (client) => {
      if (run > 1) {
        await restoreDueRows(client, setup.dueIds);
      }
      if (run === 1) {
        // Rolled back; the VACUUM below clears what it left, so the measured sweep starts clean.
        const plan = await explainDueSweep(client, nothingDueSql);
        notes.push(`EXPLAIN (ANALYZE, BUFFERS) of one batch of the due sweep (rolled back):`);
        notes.push(`  ${plan.due}`);
        notes.push(`  ${plan.moved}`);
        notes.push(`  ${plan.totals}`);
        if (plan.seqScan) {
          warnings.push(`due sweep: a Seq Scan on aqueduct_entitlements (${plan.moved})`);
        }
      }
      await client.query(
        'VACUUM (ANALYZE) aqueduct_entitlements, aqueduct_events, aqueduct_deliveries',
      );
    });
    context.log(`sweep: due sweep ${run}/${DUE_RUNS}`);
    const startMs = performance.now();
    const result = await job.sweep();
    const ms = performance.now() - startMs;
    const afterStartMs = performance.now();
    const after = await job.sweep();
    const afterMs = performance.now() - afterStartMs;
    const stored = await withClient(databaseUrl, (client) => countSweepRows(client, setup.dueIds));
    dueRuns.push({ run, ms, afterMs, result, afterExpired: after.expired, ...stored });
  }
  checkDueRuns(dueRuns, warnings);

  // (3) Nothing due with the real clock, as most cron ticks are: after the due sweeps, no VACUUM.
  context.log(`sweep: ${NOTHING_DUE_RUNS} nothing-due sweeps with the real clock`);
  const realClock = await timeSweeps(job, NOTHING_DUE_RUNS, undefined, warnings);

  const listeners = dueRuns[0]?.listeners ?? [];
  notes.push(
    `access.expired listeners (one delivery each per event): ${listeners.join(', ') || 'none'}; expiry.batchSize: the default (500), so 1,000 due rows take 3 statements (500, 500, 0)`,
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
      nothingDueRow('nothing due (now before every due date)', nothingDue),
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
      'expired',
      'started',
      'events',
      'deliveries',
      'rows expired',
    ],
    rows: dueRuns.map((run) => [
      `run ${run.run}`,
      run.ms.toFixed(1),
      String(run.result.batches),
      String(run.result.expired),
      String(run.result.started),
      String(run.events),
      String(run.deliveries),
      String(run.rowsExpired),
    ]),
  };
  return {
    title: `sweep: ExpiryJob.sweep() on ${ENTITLEMENTS.toLocaleString('en')} entitlements, ${DUE.toLocaleString('en')} due`,
    rows: [],
    tables: [summary, perRun],
    summary: [
      {
        metric: `sweep: nothing due, median ms (${ENTITLEMENTS.toLocaleString('en')} entitlements)`,
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

interface LedgerSetup {
  rows: number;
  due: number;
  dueIds: string[];
  earliestDue: Date;
  insertMs: number;
  tableSize: string;
  dueIndexSize: string;
  checkpointed: boolean;
  serverVersion: string;
  autovacuum: string;
  sharedBuffers: string;
}

/**
 * One INSERT ... SELECT over generate_series: distinct keys and subscriptions, a customer with up to
 * three products, start dates over the last 11 months (to the second), half with a 14-day grace
 * period, one org with one user each. Every DUE_EVERY-th row is in grace and its grace period ended
 * in the last ~18 minutes (the sweep has not run yet): due. Ids are md5-made uuids, as randomly
 * spread over the primary key as gen_random_uuid()'s, which costs ~13 µs a call on this VM (25 s of
 * the write for two a row).
 */
const SEED_SQL = `
INSERT INTO aqueduct_entitlements
  (id, key, customer_id, product_id, subscription_id, start_date, end_date, grace_period_end_date,
   access_until, orgs, status, next_transition_at, last_event_id, last_event_type, last_event_at,
   provisioned, provisioned_orgs, created_at, updated_at)
SELECT md5('entitlement:' || i)::uuid,
       'id:prov_' || lpad(i::text, 7, '0'),
       'owner_' || lpad((i % 350000)::text, 6, '0'),
       'prod_' || (i / 350000),
       'sub_' || lpad(i::text, 7, '0'),
       start_date, end_date, grace_period_end_date, access_until,
       orgs, status, access_until,
       md5('event:' || i)::uuid, 'provisioning.start', start_date,
       true, orgs, start_date, start_date
  FROM (
    SELECT i, to_timestamp(start_s) AS start_date,
           to_timestamp(start_s + 365 * 86400) AS end_date,
           CASE WHEN due OR i % 2 = 0 THEN to_timestamp(start_s + 379 * 86400) END AS grace_period_end_date,
           to_timestamp(start_s + CASE WHEN due OR i % 2 = 0 THEN 379 ELSE 365 END * 86400) AS access_until,
           CASE WHEN due THEN 'grace' ELSE 'active' END AS status,
           jsonb_build_array(jsonb_build_object(
             'name', 'Org ' || i,
             'users', jsonb_build_array(jsonb_build_object(
               'name', 'User ' || i, 'email', 'user' || i || '@example.com')))) AS orgs
      FROM (
        -- Dates as epoch seconds from $1 (the bench's clock), so every row's are computed once.
        SELECT i, due,
               CASE WHEN due THEN $1::float8 - 60 - i / $3 - 379 * 86400
                    ELSE $1::float8 - (1 + i % 330) * 86400 - i % 86400 END AS start_s
          FROM generate_series(1, $2::int) AS i, LATERAL (SELECT i % $3 = 0 AS due) AS d
      ) AS g
    OFFSET 0 -- computes orgs once per row, not once per column that uses it
  ) AS e`;

async function seedLedger(context: BenchContext, client: Client): Promise<LedgerSetup> {
  context.log(`sweep: writing ${ENTITLEMENTS} entitlements`);
  const startMs = performance.now();
  await client.query(SEED_SQL, [Date.now() / 1000, ENTITLEMENTS, DUE_EVERY]);
  const insertMs = performance.now() - startMs;
  context.log(`sweep: written in ${(insertMs / 1000).toFixed(1)} s; VACUUM (ANALYZE)`);
  await client.query('VACUUM (ANALYZE) aqueduct_entitlements');
  let checkpointed = true;
  try {
    await client.query('CHECKPOINT');
  } catch {
    checkpointed = false;
  }
  const counts = await client.query<{ rows: number }>(
    'SELECT count(*)::int AS rows FROM aqueduct_entitlements',
  );
  const due = await client.query<{ id: string; next_transition_at: Date }>(
    `SELECT id, next_transition_at FROM aqueduct_entitlements
      WHERE next_transition_at <= now() ORDER BY next_transition_at`,
  );
  const sizes = await client.query<{ table_size: string; index_size: string }>(
    `SELECT pg_size_pretty(pg_total_relation_size('aqueduct_entitlements')) AS table_size,
            pg_size_pretty(pg_relation_size('aqueduct_entitlements_due_idx')) AS index_size`,
  );
  return {
    rows: counts.rows[0].rows,
    due: due.rows.length,
    dueIds: due.rows.map((row) => row.id),
    earliestDue: due.rows[0]?.next_transition_at ?? new Date(),
    insertMs,
    tableSize: sizes.rows[0].table_size,
    dueIndexSize: sizes.rows[0].index_size,
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

/** Puts the due rows back as they were before the sweep, and removes what the sweep wrote. */
async function restoreDueRows(client: Client, dueIds: string[]): Promise<void> {
  await client.query(
    `UPDATE aqueduct_entitlements
        SET status = 'grace', next_transition_at = access_until, expired_at = NULL, updated_at = created_at
      WHERE id = ANY($1::uuid[])`,
    [dueIds],
  );
  // The deliveries go with their events (ON DELETE CASCADE).
  await client.query('DELETE FROM aqueduct_events WHERE type = $1', [AccessEventType.Expired]);
}

/**
 * Runs `fn` while recording the last statement the library's DataSource sends: the sweep's own SQL
 * and parameters, so EXPLAIN looks at exactly what the job runs. Not used in measured runs.
 */
async function captureQuery(
  dataSource: DataSource,
  fn: () => Promise<unknown>,
): Promise<CapturedQuery> {
  let captured: CapturedQuery | undefined;
  const original = dataSource.query;
  dataSource.query = function (this: DataSource, sql: string, parameters?: unknown[], ...rest) {
    captured = { sql, parameters: parameters ?? [] };
    return original.call(this, sql, parameters, ...rest);
  } as DataSource['query'];
  try {
    await fn();
  } finally {
    dataSource.query = original;
  }
  if (!captured) {
    throw new Error('the sweep sent no statement');
  }
  return captured;
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
    if (!result.ran || result.expired + result.started > 0) {
      warnings.push(
        `a nothing-due sweep ${result.ran ? `moved ${result.expired + result.started} rows` : 'did not get the lock'}`,
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
  'Subplan Name'?: string;
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
  /** The `due` CTE: how the due rows are found. */
  due: string;
  /** The `moved` CTE: how the UPDATE reaches them. */
  moved: string;
  totals: string;
  seqScan: boolean;
}

/** EXPLAIN (ANALYZE, BUFFERS) of the captured statement, in a transaction that is rolled back. */
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

/** The same statement with the real clock, while the due rows are due: one batch of it. */
function explainDueSweep(client: Client, nothingDue: CapturedQuery): Promise<PlanSummary> {
  return explain(client, {
    sql: nothingDue.sql,
    parameters: [new Date(), ...nothingDue.parameters.slice(1)],
  });
}

function summarisePlan(output: ExplainOutput): PlanSummary {
  const cte = (name: string): string => {
    const node = findNodes(output.Plan, (n) => n['Subplan Name'] === `CTE ${name}`)[0];
    if (!node) {
      return `CTE ${name}: not in the plan`;
    }
    const scans = findNodes(
      node,
      (n) =>
        (n['Relation Name'] !== undefined || n['Index Name'] !== undefined) &&
        n['Node Type'] !== 'ModifyTable',
    )
      .map(
        (n) =>
          `${n['Node Type']}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''} (rows ${n['Actual Rows']} x ${n['Actual Loops']} loops)`,
      )
      .join(', ');
    return `CTE ${name}: ${scans}; ${node['Actual Rows']} rows, ${node['Actual Total Time']?.toFixed(3)} ms, buffers hit ${node['Shared Hit Blocks']} read ${node['Shared Read Blocks']}`;
  };
  const root = output.Plan;
  return {
    due: cte('due'),
    moved: cte('moved'),
    totals: `whole statement: planning ${output['Planning Time'].toFixed(3)} ms, execution ${output['Execution Time'].toFixed(3)} ms, buffers hit ${root['Shared Hit Blocks']} read ${root['Shared Read Blocks']}`,
    seqScan:
      findNodes(
        root,
        (n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'aqueduct_entitlements',
      ).length > 0,
  };
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
  /** The sweep right after, with nothing due any more. */
  afterMs: number;
  afterExpired: number;
  result: { ran: boolean; expired: number; started: number; batches: number };
  events: number;
  deliveries: number;
  listeners: string[];
  /** Due rows now expired with nothing left to sweep. */
  rowsExpired: number;
}

async function countSweepRows(
  client: Client,
  dueIds: string[],
): Promise<Pick<DueRun, 'events' | 'deliveries' | 'listeners' | 'rowsExpired'>> {
  const events = await client.query<{ events: number; deliveries: number; listeners: string[] }>(
    `SELECT count(DISTINCT ev.id)::int AS events,
            count(d.event_id)::int AS deliveries,
            coalesce(array_agg(DISTINCT d.listener) FILTER (WHERE d.listener IS NOT NULL), '{}') AS listeners
       FROM aqueduct_events ev
       LEFT JOIN aqueduct_deliveries d ON d.event_id = ev.id
      WHERE ev.type = $1`,
    [AccessEventType.Expired],
  );
  const rows = await client.query<{ expired: number }>(
    `SELECT count(*)::int AS expired FROM aqueduct_entitlements
      WHERE id = ANY($1::uuid[]) AND status = 'expired' AND next_transition_at IS NULL`,
    [dueIds],
  );
  const [row] = events.rows;
  return {
    events: row.events,
    deliveries: row.deliveries,
    listeners: row.listeners,
    rowsExpired: rows.rows[0].expired,
  };
}

function checkDueRuns(runs: DueRun[], warnings: string[]): void {
  for (const run of runs) {
    if (
      !run.result.ran ||
      run.result.expired !== DUE ||
      run.events !== DUE ||
      run.rowsExpired !== DUE
    ) {
      warnings.push(
        `due sweep ${run.run}: expired ${run.result.expired}, events ${run.events}, rows expired ${run.rowsExpired}; expected ${DUE} each`,
      );
    }
    if (run.deliveries !== run.events * run.listeners.length) {
      warnings.push(
        `due sweep ${run.run}: ${run.deliveries} deliveries for ${run.events} events and ${run.listeners.length} listeners`,
      );
    }
    if (run.afterExpired !== 0) {
      warnings.push(`due sweep ${run.run}: the sweep right after expired ${run.afterExpired} more`);
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
