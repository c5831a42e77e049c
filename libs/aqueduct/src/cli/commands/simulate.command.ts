import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { signAqueductRequest } from '../../testing/sign-aqueduct-request';
import { CliError, ExitCode, output, positiveInt, positiveNumber, table } from '../cli-output';
import { checkUrl, postSigned } from '../http-post';
import { sampleBody } from '../sample-event';
import { addSigningOptions, type SigningFlags, signingOptions } from '../signing-options';

/** Aqueduct's retry schedule after a failed attempt: 1 h, 6 h, 12 h, 24 h, then it gives up. */
export const AQUEDUCT_RETRY_DELAYS_MS = [1, 6, 12, 24].map((hours) => hours * 3_600_000);

interface SimulateFlags extends SigningFlags {
  url: string;
  events: number;
  duplicates: number;
  timeScale: number;
  concurrency: number;
  json?: boolean;
}

interface Outcome {
  id: string;
  attempts: number;
  delivered: boolean;
  duplicate: boolean;
  lastStatus: number | string;
}

/**
 * `simulate`: behaves like Aqueduct. Sends N events (a share of them twice, as Aqueduct's own
 * retries can), retries any that fail on Aqueduct's schedule (compressed by --time-scale), and
 * re-signs each attempt with the same delivery id, as a real sender does.
 */
export function registerSimulate(program: Command): void {
  addSigningOptions(
    program
      .command('simulate')
      .description(
        "act like Aqueduct: send N events, retry failures on Aqueduct's schedule, report",
      )
      .requiredOption('--url <url>', 'the webhook endpoint')
      .option('--events <n>', 'how many distinct events', positiveInt('--events'), 100)
      .option('--duplicates <ratio>', 'share of events delivered twice (0 to 1)', parseRatio, 0.1)
      .option(
        '--time-scale <n>',
        'divide the retry delays by this (3600: one hour becomes one second)',
        positiveNumber('--time-scale'),
        3600,
      )
      .option('--concurrency <n>', 'requests in flight at once', positiveInt('--concurrency'), 10)
      .option('--json', 'print the report as JSON'),
  ).action(async (flags: SimulateFlags) => {
    const url = checkUrl(flags.url);
    const deliveries: { id: string; body: string; duplicate: boolean }[] = [];
    for (let i = 0; i < flags.events; i++) {
      const delivery = {
        id: `msg_${randomUUID().replace(/-/g, '')}`,
        body: sampleBody('provisioning.start', {}),
        duplicate: false,
      };
      deliveries.push(delivery);
      if (i < Math.round(flags.events * flags.duplicates)) {
        deliveries.push({ ...delivery, duplicate: true });
      }
    }
    const progress = new Progress(deliveries.length);
    const outcomes = await runPool(deliveries, flags.concurrency, async (delivery) => {
      const outcome = await deliver(url, delivery, flags);
      progress.tick(outcome.delivered);
      return outcome;
    });
    progress.done();
    const report = summarise(outcomes);
    output(flags.json, report, () => humanReport(report));
    process.exitCode = report.givenUp === 0 ? ExitCode.Ok : ExitCode.Failed;
  });
}

async function deliver(
  url: string,
  delivery: { id: string; body: string; duplicate: boolean },
  flags: SimulateFlags,
): Promise<Outcome> {
  let lastStatus: number | string = '';
  for (let attempt = 0; attempt <= AQUEDUCT_RETRY_DELAYS_MS.length; attempt++) {
    if (attempt > 0) {
      await sleep(AQUEDUCT_RETRY_DELAYS_MS[attempt - 1] / flags.timeScale);
    }
    try {
      const { status } = await postSigned(
        url,
        signAqueductRequest(delivery.body, signingOptions(flags, delivery.id)),
      );
      lastStatus = status;
      if (status >= 200 && status < 300) {
        return {
          id: delivery.id,
          attempts: attempt + 1,
          delivered: true,
          duplicate: delivery.duplicate,
          lastStatus,
        };
      }
    } catch (error) {
      if (!(error instanceof CliError)) {
        throw error;
      }
      lastStatus = 'unreachable';
    }
  }
  return {
    id: delivery.id,
    attempts: AQUEDUCT_RETRY_DELAYS_MS.length + 1,
    delivered: false,
    duplicate: delivery.duplicate,
    lastStatus,
  };
}

function summarise(outcomes: Outcome[]) {
  const byAttempts: Record<string, number> = {};
  for (const outcome of outcomes.filter((o) => o.delivered)) {
    byAttempts[outcome.attempts] = (byAttempts[outcome.attempts] ?? 0) + 1;
  }
  return {
    sent: outcomes.length,
    duplicatesSent: outcomes.filter((o) => o.duplicate).length,
    delivered: outcomes.filter((o) => o.delivered).length,
    deliveredFirstTry: byAttempts[1] ?? 0,
    retried: outcomes.filter((o) => o.attempts > 1).length,
    givenUp: outcomes.filter((o) => !o.delivered).length,
    deliveredByAttempts: byAttempts,
    requests: outcomes.reduce((sum, o) => sum + o.attempts, 0),
    givenUpIds: outcomes
      .filter((o) => !o.delivered)
      .map((o) => ({ id: o.id, lastStatus: o.lastStatus })),
  };
}

function humanReport(report: ReturnType<typeof summarise>): string {
  const rows = Object.entries(report.deliveredByAttempts).map(([attempts, count]) => [
    attempts,
    String(count),
  ]);
  return [
    `sent ${report.sent} deliveries (${report.duplicatesSent} duplicates) in ${report.requests} requests`,
    `delivered ${report.delivered}, ${report.deliveredFirstTry} on the first try, ${report.retried} retried, ${report.givenUp} given up`,
    table(['attempts', 'delivered'], rows),
    ...report.givenUpIds.map((g) => `given up: ${g.id} (last answer ${g.lastStatus})`),
  ].join('\n');
}

async function runPool<T, R>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** A one-line progress bar on stderr (only on a terminal, so pipes and logs stay clean). */
class Progress {
  private finished = 0;
  private delivered = 0;
  constructor(private readonly total: number) {}

  tick(delivered: boolean): void {
    this.finished++;
    this.delivered += delivered ? 1 : 0;
    if (process.stderr.isTTY) {
      const width = 30;
      const filled = Math.round((this.finished / this.total) * width);
      process.stderr.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.finished}/${this.total} (${this.delivered} delivered)`,
      );
    }
  }

  done(): void {
    if (process.stderr.isTTY) {
      process.stderr.write('\n');
    }
  }
}

function parseRatio(value: string): number {
  const ratio = Number(value);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new CliError(`--duplicates must be between 0 and 1, got "${value}"`, ExitCode.Usage);
  }
  return ratio;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
