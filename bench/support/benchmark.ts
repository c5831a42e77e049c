import type { Cleanup } from './cleanup';
import type { BenchConfig } from './config';
import type { LoadResult } from './load';

/** What run.ts gives every benchmark. */
export interface BenchContext {
  config: BenchConfig;
  /** The benchmark's own database (fresh, dropped once it is done). */
  databaseUrl: string;
  /** Register teardown that must also happen on Ctrl-C (e.g. stopping a child server). */
  cleanup: Cleanup;
  log(message: string): void;
}

/** One line of the results table. */
export interface ResultRow {
  route: string;
  result: LoadResult;
  /** req/s as a percentage of the baseline row's, when the row has one. */
  percentOfBaseline?: number;
}

/** A table of ready-made cells, for figures that are not load runs (e.g. latency percentiles). */
export interface TextTable {
  header: string[];
  rows: string[][];
}

/** One line of the summary `npm run bench` prints last: the figures an issue sets a target for. */
export interface SummaryLine {
  metric: string;
  value: string;
  /** The target, as the issue words it; empty when there is none. */
  target?: string;
  /** Whether the value meets the target; undefined when there is none. */
  met?: boolean;
}

export interface BenchReport {
  title: string;
  rows: ResultRow[];
  /** Printed after the load table, in the same style. */
  tables?: TextTable[];
  /** Correctness figures and anything needed to read the numbers. */
  notes: string[];
  /** The benchmark's lines of the final summary table. */
  summary: SummaryLine[];
  /** Printed as `WARNING:` lines: something was wrong, the numbers may not mean much. */
  warnings: string[];
}

/** A benchmark: add one by writing `<name>.bench.ts` and listing it in run.ts. */
export interface Benchmark {
  name: string;
  run(context: BenchContext): Promise<BenchReport>;
}
