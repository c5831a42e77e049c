/**
 * `npm run bench [-- <name>...]`: gets a Postgres server (DATABASE_URL, else a throw-away embedded
 * one), runs each benchmark in a fresh `aqueduct_bench_<random>` database, prints a table per
 * benchmark, then one summary table of the headline figures against their targets (with each
 * server's RSS at the end of its run), and removes everything it created, Ctrl-C included.
 *
 * Env: BENCH_DURATION (measured seconds per route, default 10), BENCH_WARMUP (default 3),
 * BENCH_CONNECTIONS (default 50), DATABASE_URL (optional), BENCH_SERVER_NODE_ARGS (extra node
 * flags for the server child, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`), BENCH_DISPATCH (JSON
 * dispatch options for the latency benchmark's server, default `{}`: the library's defaults),
 * BENCH_INGEST_OPTIONS (JSON module options added to the ingest server's, e.g.
 * `{"preparedStatements":false}`), BENCH_CUSTOMERS (customers in the ledger before the
 * real-listener benchmarks start, default 5,000), BENCH_TS_NODE=1 (run the servers from the sources under
 * ts-node instead of built into dist/bench).
 *
 * Numbers are printed, never asserted: they depend on the machine. Correctness problems (non-2xx,
 * acknowledged events without a row) are printed as WARNING lines.
 */
import { cpus } from 'node:os';
import { accessBenchmark } from './access.bench';
import { ingestBenchmark } from './ingest.bench';
import { instancesBenchmark } from './instances.bench';
import {
  latencyNoopBenchmark,
  latencyRealBenchmark,
  latencyRenewalsBenchmark,
} from './latency.bench';
import { retentionBenchmark } from './retention.bench';
import { scaleBenchmark } from './scale.bench';
import { sweepBenchmark } from './sweep.bench';
import type { Benchmark, SummaryLine } from './support/benchmark';
import { Cleanup } from './support/cleanup';
import { readBenchConfig } from './support/config';
import { createBenchDatabase, startPostgresServer } from './support/database';
import { formatReport, formatSummary } from './support/report';
import { mebibytes } from './support/stats';

/** Every benchmark, in the order they run. */
const BENCHMARKS: Benchmark[] = [
  ingestBenchmark,
  instancesBenchmark,
  latencyNoopBenchmark,
  latencyRealBenchmark,
  latencyRenewalsBenchmark,
  sweepBenchmark,
  accessBenchmark,
  retentionBenchmark,
  // Last: it seeds ten million rows (minutes); BENCH_SCALE_ROWS makes it smaller.
  scaleBenchmark,
];

let interrupted = false;
/** Quiet once interrupted: the run goes on briefly while cleanup tears it down. */
function log(message: string): void {
  if (!interrupted) {
    console.log(`[bench] ${message}`);
  }
}

async function main(cleanup: Cleanup): Promise<void> {
  const config = readBenchConfig();
  // `latency` also selects its variants `latency-real` and `latency-renewals`.
  const selected = BENCHMARKS.filter(
    (b) =>
      config.only.length === 0 ||
      config.only.some((name) => b.name === name || b.name.startsWith(`${name}-`)),
  );
  if (selected.length === 0) {
    throw new Error(
      `no benchmark named ${config.only.join(', ')}; known: ${BENCHMARKS.map((b) => b.name).join(', ')}`,
    );
  }
  log(`node ${process.version}, ${cpus().length} CPU(s): ${cpus()[0]?.model ?? 'unknown'}`);

  const server = await startPostgresServer();
  cleanup.defer('stop Postgres', server.stop);

  const summary: SummaryLine[] = [];
  // A database each: one benchmark's rows (e.g. deliveries nobody ran) must not weigh on the next.
  for (const benchmark of selected) {
    const database = await createBenchDatabase(server);
    cleanup.defer(`drop database ${database.name}`, database.drop);
    log(`running ${benchmark.name} in database ${database.name} on ${server.description}`);
    const report = await benchmark.run({ config, databaseUrl: database.url, cleanup, log });
    console.log(formatReport(report));
    summary.push(...report.summary);
    await database.drop();
  }
  // This process ran the load generator and the sweep benchmark's app (in-process).
  summary.push({
    metric: 'bench process (load generator, sweep app): RSS at the end of the run',
    value: `${mebibytes(process.memoryUsage().rss)} (peak ${mebibytes(process.resourceUsage().maxRSS * 1024)})`,
  });
  console.log(formatSummary(summary));
}

const cleanup = new Cleanup();
process.once('SIGINT', () => {
  log('interrupted: cleaning up');
  interrupted = true;
  void cleanup.runAll().finally(() => process.exit(130));
});

main(cleanup)
  .then(
    () => 0,
    (error: unknown) => {
      if (!interrupted) {
        console.error('[bench] failed:', error);
      }
      return 1;
    },
  )
  .then(async (code) => {
    await cleanup.runAll();
    log('cleaned up');
    // Exit explicitly: a stray handle (a pg pool, a timer) must not keep `npm run bench` hanging.
    process.exit(code);
  });
