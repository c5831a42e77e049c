import { type ChildProcess, execFile, fork } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import type { SummaryLine } from './benchmark';
import { once } from './cleanup';
import { mebibytes } from './stats';

/** Repository root: ts-node and tsconfig-paths find tsconfig.json from here. */
const ROOT = resolve(__dirname, '..', '..');

/**
 * The child runs TypeScript directly, as `npm run bench` does: transpile-only because type errors
 * are the linter's job and checking would only slow start-up; tsconfig-paths resolves
 * `nestjs-aqueduct` to libs/aqueduct/src.
 */
const TS_EXEC_ARGV = ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'];

/**
 * By default the server runs built, as a host runs its app (`node dist/...`): its memory is then a
 * host's, not ts-node's (about 100 MiB more). bench/tsconfig.server.json compiles it and the
 * library sources it imports into dist/bench; tsconfig-paths, pointed there by TS_NODE_BASEURL,
 * resolves `nestjs-aqueduct` to the built library. BENCH_TS_NODE=1 runs the sources instead.
 */
const BUILD_DIR = resolve(ROOT, 'dist', 'bench');
const BUILD_TSCONFIG = resolve(ROOT, 'bench', 'tsconfig.server.json');
const BUILT_EXEC_ARGV = ['-r', 'tsconfig-paths/register'];
let built: Promise<unknown> | undefined;

function runsBuilt(): boolean {
  return process.env.BENCH_TS_NODE !== '1';
}

/**
 * Compiles the server scripts once per `npm run bench`. Type errors do not stop the run (tsc still
 * emits; checking types is `npm run typecheck`'s job, as with ts-node's transpile-only).
 */
function buildServers(): Promise<unknown> {
  built ??= promisify(execFile)(process.execPath, [
    require.resolve('typescript/bin/tsc'),
    '-p',
    BUILD_TSCONFIG,
  ]).catch((error: { stdout?: string }) => {
    console.warn(`[bench] tsc reported errors building the server:\n${error.stdout ?? error}`);
  });
  return built;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;
const STATS_TIMEOUT_MS = 5_000;
/** Pruning 1,000,000 events takes under a minute here; ten is a stuck prune. */
const PRUNE_TIMEOUT_MS = 600_000;

/** What a server script sends over IPC once it listens. */
export interface ServerReadyMessage {
  type: 'ready';
  port: number;
}

/** The parent's question, and the server's answer, about its resources. */
export interface ServerStatsRequest {
  type: 'stats';
}
export interface ServerStatsMessage {
  type: 'stats';
  /** process.memoryUsage().rss now, bytes. */
  rssBytes: number;
  /** Peak resident set since the process started (getrusage maxrss), bytes. */
  maxRssBytes: number;
  /** CPU time (user + system) since the process started, microseconds. */
  cpuMicros: number;
  /** Statements sent to Postgres since the process started (support/round-trips.ts). */
  roundTrips: number;
  /** Mails received since the process started (the SMTP server's). */
  mailsReceived?: number;
}

/** A child script's answer to `stats`: its own process's resources, and what it counts. */
export function processStats(
  counts: Pick<ServerStatsMessage, 'roundTrips' | 'mailsReceived'>,
): ServerStatsMessage {
  const cpu = process.cpuUsage();
  return {
    type: 'stats',
    cpuMicros: cpu.user + cpu.system,
    rssBytes: process.memoryUsage().rss,
    // maxRSS is in kilobytes (getrusage).
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    ...counts,
  };
}

/** The parent's order to prune (`AqueductEventCommands.prune` in the server), and its outcome. */
export interface ServerPruneRequest {
  type: 'prune';
  olderThanMs: number;
  batchSize?: number;
  pauseRatio?: number;
}
export interface ServerPrunedMessage {
  type: 'pruned';
  /** The prune's counts, or why it failed. */
  result?: { events: number; deliveries: number; batches: number };
  error?: string;
  seconds: number;
}

export interface ChildServer {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** The server's memory and CPU time, asked over IPC (the server runs in its own process). */
  stats(): Promise<ServerStatsMessage>;
  /** Deletes old events in the server's own process, as its retention job would. */
  prune(request: ServerPruneRequest): Promise<ServerPrunedMessage>;
  stop(): Promise<void>;
}

/**
 * Starts a server script in its own Node process, so it gets its own event loop (and core) instead
 * of competing with the load generator's. Resolves once the child reports its port over IPC.
 */
export async function startChildServer(
  script: string,
  env: Record<string, string>,
  /** Node flags of this server, e.g. a heap limit (BENCH_SERVER_NODE_ARGS come after them). */
  nodeArgs: readonly string[] = [],
): Promise<ChildServer> {
  if (runsBuilt()) {
    await buildServers();
  }
  const entry = runsBuilt()
    ? resolve(BUILD_DIR, script.replace(/\.ts$/, '.js'))
    : resolve(ROOT, script);
  const child = fork(entry, [], {
    cwd: ROOT,
    // BENCH_SERVER_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, to profile the server
    // alone (NODE_OPTIONS refuses --cpu-prof, and would profile the load generator too).
    execArgv: [
      ...(runsBuilt() ? BUILT_EXEC_ARGV : TS_EXEC_ARGV),
      ...nodeArgs,
      ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean),
    ],
    env: { ...process.env, ...env, ...(runsBuilt() ? { TS_NODE_BASEURL: BUILD_DIR } : {}) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await waitForReady(child);
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    stats: () =>
      ask<ServerStatsMessage>(
        child,
        { type: 'stats' } satisfies ServerStatsRequest,
        'stats',
        STATS_TIMEOUT_MS,
      ),
    prune: (request) => ask<ServerPrunedMessage>(child, request, 'pruned', PRUNE_TIMEOUT_MS),
    stop: once(() => stopChild(child)),
  };
}

/**
 * Sends `request` over IPC and resolves with the server's next message of `replyType` (one
 * question of a type at a time: answers carry no id).
 */
function ask<Reply>(
  child: ChildProcess,
  request: { type: string },
  replyType: string,
  timeoutMs: number,
): Promise<Reply> {
  return new Promise((resolveReply, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`server did not answer "${request.type}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: { type?: string }) => {
      if (message?.type === replyType) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolveReply(message as Reply);
      }
    };
    child.on('message', onMessage);
    child.send(request);
  });
}

function waitForReady(child: ChildProcess): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not report ready within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`server exited before it was ready (code ${code}, signal ${signal})`));
    };
    child.once('exit', onExit);
    child.on('message', (message: Partial<ServerReadyMessage>) => {
      if (message?.type === 'ready' && typeof message.port === 'number') {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolvePort(message.port);
      }
    });
  });
}

/** SIGTERM lets the app close its pool; SIGKILL if it has not exited in time. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    child.kill('SIGTERM');
  });
}

/** How often `withPeakRss` asks the server for its RSS. */
const RSS_SAMPLE_MS = 200;

/**
 * Samples the server's RSS while `work` runs; resolves with the work's result and the highest RSS
 * seen (getrusage's maxrss only rises, so it cannot tell one phase of a run from another).
 */
export async function withPeakRss<T>(
  server: ChildServer,
  work: () => Promise<T>,
): Promise<{ result: T; peakRssBytes: number }> {
  let peakRssBytes = 0;
  let sampling = Promise.resolve();
  const timer = setInterval(() => {
    sampling = server
      .stats()
      .then(({ rssBytes }) => {
        peakRssBytes = Math.max(peakRssBytes, rssBytes);
      })
      .catch(() => undefined);
  }, RSS_SAMPLE_MS);
  let result: T;
  try {
    result = await work();
  } finally {
    clearInterval(timer);
    await sampling;
  }
  return { result, peakRssBytes };
}

/** The summary line for a server's memory, asked just before it is stopped. */
export async function serverMemoryLine(label: string, server: ChildServer): Promise<SummaryLine> {
  const { rssBytes, maxRssBytes } = await server.stats();
  return {
    metric: `${label}: RSS at the end of the run`,
    value: `${mebibytes(rssBytes)} (peak ${mebibytes(maxRssBytes)})`,
  };
}
