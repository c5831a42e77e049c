import type { Command } from 'commander';
import { AqueductEventCommands, type PruneResult } from '../../admin/aqueduct-event.commands';
import { MAX_PAUSE_RATIO, RETENTION_DEFAULTS } from '../../options/aqueduct-options.defaults';
import { parseDuration } from '../../utils/duration';
import { CliError, ExitCode, output, positiveInt } from '../cli-output';
import { addDatabaseOptions, type DbFlags, onDatabase } from './database.options';

interface PruneFlags extends DbFlags {
  olderThan: number;
  dryRun?: boolean;
  includeQuarantined?: boolean;
  includeDead?: boolean;
  batchSize: number;
  pauseRatio: number;
}

/**
 * `events prune --older-than 30d`: deletes old events whose work is done, as the retention job
 * does. The age is required: a command that deletes states how much.
 */
export function registerEventsPrune(events: Command): void {
  addDatabaseOptions(
    events
      .command('prune')
      .description(
        'delete events older than --older-than whose deliveries are all done (with their ' +
          'deliveries); never quarantined events, events with a dead delivery (unless included) ' +
          'or events the access ledger refers to',
      )
      .requiredOption('--older-than <age>', 'received longer ago than this: 30d, 12h, 90m', age)
      .option('--dry-run', 'count what would be deleted, delete nothing')
      .option('--include-quarantined', 'quarantined events too')
      .option('--include-dead', 'events with a dead delivery too')
      .option(
        '--batch-size <n>',
        'events deleted per transaction',
        positiveInt('--batch-size'),
        RETENTION_DEFAULTS.batchSize,
      )
      .option(
        '--pause-ratio <r>',
        `after each batch, pause for r times the batch's time (0 to ${MAX_PAUSE_RATIO}; 0: no pause)`,
        pauseRatio,
        RETENTION_DEFAULTS.pauseRatio,
      ),
  ).action(async (flags: PruneFlags) => {
    const result = await onDatabase(flags, (app) =>
      app.get(AqueductEventCommands).prune({
        olderThanMs: flags.olderThan,
        batchSize: flags.batchSize,
        pauseRatio: flags.pauseRatio,
        includeQuarantined: flags.includeQuarantined,
        includeDead: flags.includeDead,
        dryRun: flags.dryRun,
      }),
    );
    output(flags.json, result, () => pruneText(result));
  });
}

/** `--older-than` in ms, or a usage error naming the option. */
function age(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new CliError(
      `--older-than must be a whole number of days, hours or minutes (30d, 12h, 90m), got "${value}"`,
      ExitCode.Usage,
    );
  }
  return ms;
}

/** `--pause-ratio`, or a usage error naming the option. */
function pauseRatio(value: string): number {
  const ratio = Number(value);
  if (value.trim() === '' || !(ratio >= 0 && ratio <= MAX_PAUSE_RATIO)) {
    throw new CliError(
      `--pause-ratio must be a number from 0 to ${MAX_PAUSE_RATIO}, got "${value}"`,
      ExitCode.Usage,
    );
  }
  return ratio;
}

function pruneText(result: PruneResult): string {
  const cutoff = result.cutoff.toISOString();
  if (result.dryRun) {
    return `would delete ${result.events} events (${result.deliveries} deliveries) received before ${cutoff}`;
  }
  if (!result.ran) {
    return 'nothing deleted: another instance is pruning (its retention job); try again later';
  }
  return `deleted ${result.events} events (${result.deliveries} deliveries) received before ${cutoff}`;
}
