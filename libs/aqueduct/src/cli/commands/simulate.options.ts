import type { Command } from 'commander';
import { CliError, ExitCode, positiveInt, positiveNumber } from '../cli-output';
import type { SigningFlags } from '../signing-options';
import { INVALID_KINDS } from '../simulation-invalid';
import { AQUEDUCT_RETRY_DELAYS_MS } from '../simulation-sender';

/** `simulate`'s options, as commander parses them. */
export interface SimulateFlags extends SigningFlags {
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

/** Aqueduct's own number of attempts: the first, then one per delay of its schedule. */
const AQUEDUCT_ATTEMPTS = AQUEDUCT_RETRY_DELAYS_MS.length + 1;

/** Adds `simulate`'s options (all but the signing ones) to `command`, in the order --help shows. */
export function addSimulateOptions(command: Command): Command {
  return command
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
      `attempts per delivery before giving up (Aqueduct: ${AQUEDUCT_ATTEMPTS}; beyond its schedule the last delay repeats)`,
      positiveInt('--max-attempts'),
      AQUEDUCT_ATTEMPTS,
    )
    .option('--json', 'print the report as JSON (with the ids that got a 2xx)');
}

/** Parses a share between 0 and 1, or fails with a usage error naming the option. */
function ratio(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < 0 || parsed > 1) {
      throw new CliError(`${flag} must be between 0 and 1, got "${value}"`, ExitCode.Usage);
    }
    return parsed;
  };
}
