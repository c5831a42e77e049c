import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { INestApplicationContext } from '@nestjs/common';
import { AqueductAccessService } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { ACCESS_CHANNEL } from '../libs/aqueduct/src/storage/aqueduct-storage.constants';
import { PostgresNotifications } from '../libs/aqueduct/src/storage/postgres-notifications';
import { startInProcessApp } from './support/aqueduct-app';
import type {
  BenchContext,
  BenchReport,
  Benchmark,
  ResultRow,
  TextTable,
} from './support/benchmark';
import { type ChildServer, startChildServer } from './support/child-server';
import { withClient } from './support/database';
import { type LoadResult, runLoad } from './support/load';
import { atMost, mebibytes, percentile } from './support/stats';

/** The ledger: 1,000,000 customers with access to a product. */
const CUSTOMERS = Number(process.env.BENCH_ACCESS_ROWS ?? 1_000_000);
/** Customers held in the cache (the default `access.cache.maxEntries`). */
const CACHED = Math.min(CUSTOMERS, 100_000);
const HIT_CHECKS = 200_000;
const MISS_CHECKS = 2_000;
const INVALIDATIONS = 200;
/** Customers the HTTP load spreads over (all cached, all with access: every answer a 200). */
const HTTP_CUSTOMERS = 1_000;
/** Targets of the issue. */
const HIT_P99_TARGET_US = 50;
const GUARDED_RATIO_TARGET = 0.9;
const INVALIDATION_P99_TARGET_MS = 100;

const PRODUCT = 'prod_pro';
const customerOf = (i: number) => `owner_${i}`;

/**
 * Access checks: `check()` from the cache at 1,000,000 customers in the ledger (and from Postgres
 * on a miss), the memory of 100,000 cached customers, how soon another instance hears of a
 * change (LISTEN/NOTIFY), and a guarded route against its unguarded twin over HTTP (with the
 * per-request database read the cache replaced, `access.cache: false`, in the same run).
 */
export const accessBenchmark: Benchmark = {
  name: 'access',
  async run(context: BenchContext): Promise<BenchReport> {
    const notes: string[] = [];
    const warnings: string[] = [];
    const tables: TextTable[] = [];
    const summary: BenchReport['summary'] = [];
    // Checks only: nothing is received, dispatched or swept. The cache keeps its defaults.
    const { app: reader, close: closeReader } = await startInProcessApp(
      context,
      'close access reader',
    );
    try {
      const seeded = await seed(context);
      notes.push(
        `ledger: ${CUSTOMERS.toLocaleString('en')} customers with access to ${PRODUCT} (one aqueduct_access row each, written in ${(seeded / 1000).toFixed(1)} s, trigger off while seeding)`,
      );
      const inProcess = await measureInProcess(context, reader, notes, warnings);
      tables.push(inProcess.table);
      summary.push(...inProcess.summary);
    } finally {
      await closeReader();
    }
    const http = await measureHttp(context, notes, warnings);
    summary.push(...http.summary);
    return {
      title: `access: checks at ${CUSTOMERS.toLocaleString('en')} customers; HTTP ${context.config.connections} connections, ${context.config.durationSeconds} s measured after ${context.config.warmupSeconds} s warm-up`,
      rows: http.rows,
      tables,
      notes,
      summary,
      warnings,
    };
  },
};

/** Writes the ledger straight into the table; returns how long it took (ms). */
async function seed(context: BenchContext): Promise<number> {
  const started = performance.now();
  context.log(`access: writing ${CUSTOMERS} access rows`);
  await withClient(context.databaseUrl, async (client) => {
    // One NOTIFY per seeded row would only measure the notification queue.
    await client.query(`ALTER TABLE aqueduct_access DISABLE TRIGGER USER`);
    await client.query(
      `INSERT INTO aqueduct_access (customer_id, product_id, status, has_access, since, access_until,
         paid_until, timeline, orgs)
       SELECT 'owner_' || i, $2, 'active', true, now() - interval '1 day',
              now() + interval '37 days', now() + interval '30 days',
              jsonb_build_array(
                jsonb_build_object('from', now() - interval '1 day', 'until', now() + interval '30 days', 'status', 'active', 'seats', 2),
                jsonb_build_object('from', now() + interval '30 days', 'until', now() + interval '37 days', 'status', 'grace', 'seats', 2)),
              '[{"name": "Acme", "users": [{"name": "Ada", "email": "ada@acme.test"}, {"name": "Bob", "email": "bob@acme.test"}]}]'::jsonb
         FROM generate_series(1, $1::int) AS i`,
      [CUSTOMERS, PRODUCT],
    );
    await client.query(`ALTER TABLE aqueduct_access ENABLE TRIGGER USER`);
    await client.query(`VACUUM ANALYZE aqueduct_access`);
  });
  return performance.now() - started;
}

/** `global.gc`, without starting Node with --expose-gc. */
function garbageCollector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function measureInProcess(
  context: BenchContext,
  reader: INestApplicationContext,
  notes: string[],
  warnings: string[],
): Promise<{ table: TextTable; summary: BenchReport['summary'] }> {
  const access = reader.get(AqueductAccessService);
  const gc = garbageCollector();
  const customers = sample(CUSTOMERS, CACHED);

  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  context.log(`access: filling the cache with ${CACHED} customers`);
  const fillStarted = performance.now();
  let unexpected = 0;
  await inParallel(customers, 16, async (customer) => {
    const check = await access.check(customer, { product: PRODUCT });
    if (!check.allowed || check.source !== 'database') {
      unexpected++;
    }
  });
  if (unexpected > 0) {
    warnings.push(`fill: ${unexpected} checks did not answer allowed from Postgres`);
  }
  const fillSeconds = (performance.now() - fillStarted) / 1000;
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  const cacheBytes = heapAfter - heapBefore;

  context.log(`access: ${HIT_CHECKS} checks from the cache`);
  const hits: number[] = new Array(HIT_CHECKS);
  let wrong = 0;
  for (let i = 0; i < HIT_CHECKS; i++) {
    const customer = customers[(i * 7919) % customers.length];
    const started = performance.now();
    const check = await access.check(customer, { product: PRODUCT });
    hits[i] = (performance.now() - started) * 1000;
    if (!check.allowed || check.source !== 'cache') {
      wrong++;
    }
  }
  if (wrong > 0) {
    warnings.push(`${wrong} cached checks did not answer allowed from the cache`);
  }

  // Customers next to the cached ones, never read: each check reads Postgres (one at a time).
  context.log(`access: ${MISS_CHECKS} checks of customers not in the cache`);
  const misses: number[] = [];
  const step = CUSTOMERS / CACHED;
  for (let i = 0; i < MISS_CHECKS && step >= 2; i++) {
    const started = performance.now();
    const check = await access.check(customerOf(Math.floor(i * step) + 2), { product: PRODUCT });
    misses.push((performance.now() - started) * 1000);
    if (!check.allowed || check.source !== 'database') {
      unexpected++;
    }
  }

  context.log(`access: ${INVALIDATIONS} changes seen by another instance`);
  const invalidation = await measureInvalidation(context, reader, customers);

  const hitP99 = percentile(hits, 0.99);
  notes.push(
    `cache: ${CACHED.toLocaleString('en')} customers filled in ${fillSeconds.toFixed(1)} s by 16 concurrent checks (${Math.round(CACHED / fillSeconds)} reads/s); heap after a forced GC grew by ${mebibytes(cacheBytes)}, ${Math.round(cacheBytes / CACHED)} bytes per customer (one product, two users)`,
  );
  notes.push(
    `invalidation: an UPDATE of one customer's timeline on one instance (its own pool), timed until the other instance's LISTEN connection hands it the customer (the moment its entry is dropped); both in this process`,
  );
  return {
    table: {
      header: ['measure', 'n', 'p50', 'p99', 'max'],
      rows: [
        row('check from the cache (µs)', hits),
        row('check, first read from Postgres (µs)', misses),
        row('change → other instance told, from commit (ms)', invalidation.afterCommit),
        row('change → other instance told, from UPDATE sent (ms)', invalidation.afterSend),
      ],
    },
    summary: [
      {
        metric: `access: check from the cache, p50 / p99 µs (${CUSTOMERS.toLocaleString('en')} customers)`,
        value: `${percentile(hits, 0.5).toFixed(1)} / ${hitP99.toFixed(1)}`,
        target: `p99 <= ${HIT_P99_TARGET_US} µs`,
        met: atMost(hitP99, HIT_P99_TARGET_US),
      },
      {
        metric: 'access: change seen by another instance, p50 / p99 ms after commit',
        value: `${percentile(invalidation.afterCommit, 0.5).toFixed(2)} / ${percentile(invalidation.afterCommit, 0.99).toFixed(2)}`,
        target: `p99 <= ${INVALIDATION_P99_TARGET_MS} ms`,
        met: atMost(percentile(invalidation.afterCommit, 0.99), INVALIDATION_P99_TARGET_MS),
      },
      {
        metric: `access: heap of ${CACHED.toLocaleString('en')} cached customers`,
        value: `${mebibytes(cacheBytes)} (${Math.round(cacheBytes / CACHED)} B each)`,
      },
    ],
  };
}

const row = (label: string, values: number[]) => [
  label,
  String(values.length),
  percentile(values, 0.5).toFixed(2),
  percentile(values, 0.99).toFixed(2),
  percentile(values, 1).toFixed(2),
];

/** A second instance (its own pool) changes customers the reader holds; the reader is told. */
async function measureInvalidation(
  context: BenchContext,
  reader: INestApplicationContext,
  customers: string[],
): Promise<{ afterCommit: number[]; afterSend: number[] }> {
  const { app: writer, close: closeWriter } = await startInProcessApp(
    context,
    'close access writer',
  );
  const dataSource = writer.get(DataSource);
  const told = new Map<string, () => void>();
  const unlisten = await reader
    .get(PostgresNotifications)
    .listen(ACCESS_CHANNEL, (customer) => told.get(customer)?.());
  const afterCommit: number[] = [];
  const afterSend: number[] = [];
  try {
    for (let i = 0; i < INVALIDATIONS; i++) {
      const customer = customers[i];
      const heard = new Promise<number>((resolve) =>
        told.set(customer, () => resolve(performance.now())),
      );
      const sent = performance.now();
      await dataSource.query(
        `UPDATE aqueduct_access SET timeline = jsonb_set(timeline, '{1,until}', to_jsonb(now() + interval '38 days'))
          WHERE customer_id = $1 AND product_id = $2`,
        [customer, PRODUCT],
      );
      const committed = performance.now();
      const at = await heard;
      told.delete(customer);
      afterCommit.push(Math.max(0, at - committed));
      afterSend.push(at - sent);
    }
  } finally {
    await unlisten();
    await closeWriter();
  }
  return { afterCommit, afterSend };
}

async function measureHttp(
  context: BenchContext,
  notes: string[],
  warnings: string[],
): Promise<{ rows: ResultRow[]; summary: BenchReport['summary'] }> {
  const customers = Array.from({ length: HTTP_CUSTOMERS }, (_, i) => customerOf(i + 1));
  const cached = await startAccessServer(context, {});
  const open: LoadResult[] = [];
  const allowAll: LoadResult[] = [];
  const guarded: LoadResult[] = [];
  const cpu: Record<'open' | 'allowAll' | 'guarded' | 'uncached', number[]> = {
    open: [],
    allowAll: [],
    guarded: [],
    uncached: [],
  };
  try {
    // Every customer read once: what follows is the steady state of a busy app.
    await Promise.all(
      customers.map((customer) => fetch(`${cached.baseUrl}/customers/${customer}/reports`)),
    );
    // Alternated, twice each: the machine's drift falls on both routes alike.
    for (let round = 0; round < 2; round++) {
      for (const route of ['open', 'guarded-open', 'reports'] as const) {
        const run = await load(context, cached, route, customers);
        const key = route === 'open' ? 'open' : route === 'reports' ? 'guarded' : 'allowAll';
        ({ open, allowAll, guarded })[key].push(run.result);
        cpu[key].push(run.cpuMicros);
      }
    }
  } finally {
    await cached.stop();
  }
  // The same guard reading Postgres on every request, as before the cache.
  const uncachedServer = await startAccessServer(context, { cache: false });
  let uncached: LoadResult;
  try {
    const run = await load(context, uncachedServer, 'reports', customers);
    uncached = run.result;
    cpu.uncached.push(run.cpuMicros);
  } finally {
    await uncachedServer.stop();
  }
  for (const run of [...open, ...allowAll, ...guarded, uncached]) {
    if (run.non2xx + run.errors > 0) {
      warnings.push(`a run had ${run.non2xx} non-2xx answers and ${run.errors} errors`);
    }
  }
  const best = (runs: LoadResult[]) =>
    runs.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const openRate = mean(open.map((r) => r.requestsPerSecond));
  const guardedRate = mean(guarded.map((r) => r.requestsPerSecond));
  const ratio = guardedRate / openRate;
  const rates = (runs: LoadResult[]) => runs.map((r) => r.requestsPerSecond.toFixed(0)).join(', ');
  notes.push(
    `HTTP: GET /customers/:id/reports (@RequiresEntitlement), /open (the same handler, no guard) and /guarded-open (a guard returning true: what any Nest guard costs) over ${HTTP_CUSTOMERS} customers with access, each read once before; two runs of each, alternated (req/s: open ${rates(open)}; allow-all guard ${rates(allowAll)}; access guard ${rates(guarded)})`,
  );
  notes.push(
    `server CPU per request: open ${mean(cpu.open).toFixed(0)} µs, allow-all guard ${mean(cpu.allowAll).toFixed(0)} µs, access guard from the cache ${mean(cpu.guarded).toFixed(0)} µs, access guard reading Postgres (access.cache: false) ${mean(cpu.uncached).toFixed(0)} µs`,
  );
  return {
    rows: [
      { route: 'GET /customers/:id/open (no guard)', result: best(open) },
      {
        route: 'GET /customers/:id/guarded-open (allow-all guard)',
        result: best(allowAll),
        percentOfBaseline: (100 * best(allowAll).requestsPerSecond) / best(open).requestsPerSecond,
      },
      {
        route: 'GET /customers/:id/reports (guard, cache)',
        result: best(guarded),
        percentOfBaseline: (100 * best(guarded).requestsPerSecond) / best(open).requestsPerSecond,
      },
      {
        route: 'GET /customers/:id/reports (guard, no cache)',
        result: uncached,
        percentOfBaseline: (100 * uncached.requestsPerSecond) / best(open).requestsPerSecond,
      },
    ],
    summary: [
      {
        metric: 'access: guarded route / unguarded twin, req/s (mean of 2 runs each)',
        value: `${guardedRate.toFixed(0)} / ${openRate.toFixed(0)} = ${ratio.toFixed(2)}×`,
        target: `>= ${GUARDED_RATIO_TARGET}×`,
        met: ratio >= GUARDED_RATIO_TARGET,
      },
      {
        metric: 'access: guarded route / the same route behind an allow-all guard, req/s',
        value: `${(guardedRate / mean(allowAll.map((r) => r.requestsPerSecond))).toFixed(2)}×`,
      },
      {
        metric: 'access: guarded route reading Postgres per request (access.cache: false), req/s',
        value: `${uncached.requestsPerSecond.toFixed(0)} (${(uncached.requestsPerSecond / openRate).toFixed(2)}× the unguarded)`,
      },
    ],
  };
}

function startAccessServer(context: BenchContext, access: object): Promise<ChildServer> {
  return startChildServer('bench/bench-server.ts', {
    BENCH_DATABASE_URL: context.databaseUrl,
    BENCH_ACCESS_ROUTES: '1',
    BENCH_AQUEDUCT_OPTIONS: JSON.stringify({
      secrets: ['bench'],
      dispatch: { enabled: false },
      expiry: { enabled: false },
      access,
    }),
  }).then((server) => {
    context.cleanup.defer('stop access bench server', server.stop);
    return server;
  });
}

async function load(
  context: BenchContext,
  server: ChildServer,
  route: 'open' | 'guarded-open' | 'reports',
  customers: string[],
): Promise<{ result: LoadResult; cpuMicros: number }> {
  const { connections, warmupSeconds, durationSeconds } = context.config;
  let next = 0;
  const target = {
    url: `${server.baseUrl}/customers/${customers[0]}/${route}`,
    method: 'GET' as const,
    next: () => ({
      body: '',
      headers: {},
      path: `/customers/${customers[next++ % customers.length]}/${route}`,
    }),
  };
  context.log(`access: ${route}: warm-up ${warmupSeconds} s, measuring ${durationSeconds} s`);
  await runLoad(target, { connections, durationSeconds: warmupSeconds });
  const before = await server.stats();
  const result = await runLoad(target, { connections, durationSeconds });
  const after = await server.stats();
  return { result, cpuMicros: (after.cpuMicros - before.cpuMicros) / Math.max(1, result.answered) };
}

/** `n` distinct customers of 1..total, spread over the whole table. */
function sample(total: number, n: number): string[] {
  const step = total / n;
  return Array.from({ length: n }, (_, i) => customerOf(Math.floor(i * step) + 1));
}

async function inParallel<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        await work(items[next++]);
      }
    }),
  );
}
