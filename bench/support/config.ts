/** Settings of one `npm run bench`, read from the environment so CI can shorten or lengthen runs. */
export interface BenchConfig {
  /** Seconds of each measured run (BENCH_DURATION). */
  durationSeconds: number;
  /** Seconds of the unmeasured run before each measured one (BENCH_WARMUP). */
  warmupSeconds: number;
  /** Concurrent HTTP connections held open by the load generator (BENCH_CONNECTIONS). */
  connections: number;
  /** Benchmark names given on the command line (`npm run bench -- ingest`); empty: run them all. */
  only: string[];
}

export function readBenchConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: string[] = process.argv.slice(2),
): BenchConfig {
  return {
    durationSeconds: positiveNumber(env, 'BENCH_DURATION', 10),
    warmupSeconds: positiveNumber(env, 'BENCH_WARMUP', 3),
    connections: Math.round(positiveNumber(env, 'BENCH_CONNECTIONS', 50)),
    only: argv.filter((arg) => !arg.startsWith('-')),
  };
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number of seconds/connections, got "${raw}"`);
  }
  return value;
}
