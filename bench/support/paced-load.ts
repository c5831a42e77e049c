import { Agent, request } from 'node:http';
import type { LoadResult, LoadTarget } from './load';
import { percentile } from './stats';

/** Longest wait for the answers still in flight once the run's time is up. */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * An open load at an even pace: request i leaves at `i / rate` seconds, whatever the answers, over
 * at most `connections` keep-alive connections. autocannon's `overallRate` sends each connection's
 * quota for the second at once when the second starts: a burst every second, whose queueing would
 * be measured as latency. Latency is counted from when a request was due (a request that waited
 * for a free connection waited on the server), so a slow server cannot hide behind a slow sender.
 */
export async function runPacedLoad(
  target: LoadTarget,
  options: { connections: number; durationSeconds: number; rate: number },
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections });
  const url = new URL(target.url);
  const intervalMs = 1000 / options.rate;
  const latencies: number[] = [];
  const counts = { sent: 0, answered: 0, ok2xx: 0, non2xx: 0, errors: 0 };
  const inFlight = new Set<Promise<void>>();

  const send = (dueMs: number) => {
    const next = target.next();
    counts.sent++;
    const done = new Promise<void>((resolve) => {
      const body = target.method === 'GET' ? '' : next.body;
      const req = request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          path: next.path ?? url.pathname,
          method: target.method ?? 'POST',
          headers: { ...next.headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            latencies.push(performance.now() - dueMs);
            counts.answered++;
            if (status >= 200 && status < 300) {
              counts.ok2xx++;
            } else {
              counts.non2xx++;
            }
            target.onAnswer?.(status, next, Buffer.concat(chunks).toString());
            resolve();
          });
        },
      );
      req.on('error', () => {
        counts.errors++;
        resolve();
      });
      req.end(body);
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  };

  const startMs = performance.now();
  const endMs = startMs + options.durationSeconds * 1000;
  let due = 0;
  while (performance.now() < endMs) {
    // Everything due by now leaves now (a late timer catches up rather than dropping requests).
    const now = performance.now();
    while (startMs + due * intervalMs <= now && startMs + due * intervalMs < endMs) {
      send(startMs + due * intervalMs);
      due++;
    }
    const wait = Math.max(0, startMs + due * intervalMs - performance.now());
    await new Promise((resolve) => setTimeout(resolve, Math.min(wait, endMs - now)));
  }
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(inFlight),
    new Promise((resolve) => (drainTimer = setTimeout(resolve, DRAIN_TIMEOUT_MS))),
  ]);
  clearTimeout(drainTimer);
  agent.destroy();
  return {
    requestsPerSecond: counts.answered / options.durationSeconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    ...counts,
  };
}
