import type { Command } from 'commander';
import { ExitCode, output } from '../cli-output';
import { checkUrl } from '../http-post';
import { runPool } from '../run-pool';
import { addSigningOptions, signingOptions } from '../signing-options';
import { planDeliveries } from '../simulation-plan';
import { summarise } from '../simulation-report';
import { createSender } from '../simulation-sender';
import { addSimulateOptions, type SimulateFlags } from './simulate.options';
import { Progress } from './simulate.progress';
import { humanReport } from './simulate.report';

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
    addSimulateOptions(
      program
        .command('simulate')
        .description(
          "act like Aqueduct: send N events, retry failures on Aqueduct's schedule, report",
        ),
    ),
  ).action(simulate);
}

/** Plans the deliveries, sends them all (with a progress bar), prints the report. */
async function simulate(flags: SimulateFlags): Promise<void> {
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
}
