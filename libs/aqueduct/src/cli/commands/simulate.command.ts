import type { Command } from 'commander';
import {
  CliError,
  ExitCode,
  output,
  positiveInt,
  positiveNumber,
  printable,
  table,
} from '../cli-output';
import { checkUrl } from '../http-post';
import { addSigningOptions, type SigningFlags, signingOptions } from '../signing-options';
import {
  AQUEDUCT_RETRY_DELAYS_MS,
  createSender,
  INVALID_KINDS,
  planDeliveries,
  runPool,
  type SimulationReport,
  summarise,
} from '../simulation';

interface SimulateFlags extends SigningFlags {
  url: string[];
  events: number;
  duplicates: number;
  customers?: number;
  invalid: number;
  timeScale: number;
  concurrency: number;
  maxAttempts: number;
  json?: boolean;
}

/**
 * `simulate`: behaves like Aqueduct. Sends N events (a share of them twice, as Aqueduct's own
 * retries can), retries any that fail (any non-2xx answer, a refused or reset connection, a
 * timeout) on Aqueduct's schedule compressed by --time-scale, and re-signs each attempt with the
 * same delivery id, as a real sender does. Several --url spread the attempts round-robin, as a
 * load balancer in front of several instances would. --invalid makes a share of the events
 * impossible to understand (still signed), to see that the app stores them and still answers 2xx.
 */
export function registerSimulate(program: Command): void {
  addSigningOptions(
    program
      .command('simulate')
      .description(
        "act like Aqueduct: send N events, retry failures on Aqueduct's schedule, report",
      )
      .requiredOption(
        '--url <url>',
        'the webhook endpoint (repeat to spread attempts over several instances)',
        (value: string, previous?: string[]) => [...(previous ?? []), value],
      )
      .option('--events <n>', 'how many distinct events', positiveInt('--events'), 100)
      .option(
        '--duplicates <ratio>',
        'share of events delivered twice (0 to 1)',
        ratio('--duplicates'),
        0.1,
      )
      .option(
        '--customers <n>',
        'spread events over n customers, alternating provisioning.start and .end (default: one new customer per event)',
        positiveInt('--customers'),
      )
      .option(
        '--invalid <ratio>',
        `share of events made invalid but still signed (0 to 1), at random in the run, each kind in turn: ${Object.values(INVALID_KINDS).join(', ')}; an app that quarantines them answers 2xx (the --json report lists invalidIds and quarantinedIds)`,
        ratio('--invalid'),
        0,
      )
      .option(
        '--time-scale <n>',
        'divide the retry delays by this (3600: one hour becomes one second)',
        positiveNumber('--time-scale'),
        3600,
      )
      .option('--concurrency <n>', 'requests in flight at once', positiveInt('--concurrency'), 10)
      .option(
        '--max-attempts <n>',
        `attempts per delivery before giving up (Aqueduct: ${AQUEDUCT_RETRY_DELAYS_MS.length + 1}; beyond its schedule the last delay repeats)`,
        positiveInt('--max-attempts'),
        AQUEDUCT_RETRY_DELAYS_MS.length + 1,
      )
      .option('--json', 'print the report as JSON (with the ids that got a 2xx)'),
  ).action(async (flags: SimulateFlags) => {
    const urls = flags.url.map(checkUrl);
    signingOptions(flags); // fail on a missing secret before sending anything
    const deliveries = planDeliveries(flags);
    const send = createSender({
      urls,
      maxAttempts: flags.maxAttempts,
      timeScale: flags.timeScale,
      signing: (id) => signingOptions(flags, id),
    });
    const progress = new Progress(deliveries.length);
    const outcomes = await runPool(deliveries, flags.concurrency, async (delivery) => {
      const outcome = await send(delivery);
      progress.tick(outcome.delivered);
      return outcome;
    });
    progress.done();
    const report = summarise(outcomes);
    output(flags.json, report, () => humanReport(report));
    process.exitCode = report.givenUp === 0 ? ExitCode.Ok : ExitCode.Failed;
  });
}

function humanReport(report: SimulationReport): string {
  const rows = Object.entries(report.deliveredByAttempts).map(([attempts, count]) => [
    attempts,
    String(count),
  ]);
  const answers = Object.entries(report.answers)
    .map(([answer, count]) => `${printable(answer)}: ${count}`)
    .join(', ');
  const invalid = Object.entries(report.invalidByKind)
    .map(([kind, count]) => `${kind}: ${count}`)
    .join(', ');
  return [
    `sent ${report.sent} deliveries (${report.duplicatesSent} duplicates) in ${report.requests} requests`,
    `delivered ${report.delivered}, ${report.deliveredFirstTry} on the first try, ${report.retried} retried, ${report.givenUp} given up`,
    `answers: ${answers}; ${report.duplicatesAbsorbed} answered as duplicates`,
    ...(report.invalidSent > 0
      ? [
          `sent invalid: ${report.invalidSent} (${invalid}); ${report.quarantinedIds.length} answered as quarantined`,
        ]
      : []),
    table(['attempts', 'delivered'], rows),
    ...report.givenUpIds.map(
      (g) => `given up: ${printable(g.id)} (last answer ${printable(g.lastStatus)})`,
    ),
  ].join('\n');
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

function ratio(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0 || parsed > 1) {
      throw new CliError(`${flag} must be between 0 and 1, got "${value}"`, ExitCode.Usage);
    }
    return parsed;
  };
}
