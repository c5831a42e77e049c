import type { Command } from 'commander';
import { AqueductEventReader } from '../../admin/aqueduct-event.reader';
import type { AqueductEventStatus } from '../../storage/aqueduct-storage.types';
import { CliError, ExitCode, output, positiveInt, printable, table } from '../cli-output';
import { addDatabaseOptions, type DbFlags, onDatabase } from './database.options';
import { iso } from './text.format';

interface ListFlags extends DbFlags {
  type?: string;
  status?: AqueductEventStatus;
  since?: string;
  limit: number;
}

/** Events listed when `--limit` is not given. */
const DEFAULT_LIMIT = 20;

/** `events list`: the newest events first, filtered by type, status and arrival. */
export function registerEventsList(events: Command): void {
  addDatabaseOptions(
    events
      .command('list')
      .description('newest events first')
      .option('--type <type>', 'only this event type')
      .option('--status <status>', 'accepted, quarantined or dismissed')
      .option('--since <date>', 'received at or after (ISO 8601)')
      .option('--limit <n>', 'how many', positiveInt('--limit'), DEFAULT_LIMIT),
  ).action(async (flags: ListFlags) => {
    const since = sinceOf(flags);
    // `rejected`, the status's name before quarantine (migration 1763800007000), still works.
    const status = (flags.status as string) === 'rejected' ? 'quarantined' : flags.status;
    const list = await onDatabase(flags, (app) =>
      app
        .get(AqueductEventReader)
        .listEvents({ type: flags.type, status, since, limit: flags.limit }),
    );
    output(flags.json, list, () =>
      table(
        ['id', 'received', 'type', 'status'],
        list.map((e) => [printable(e.id), iso(e.receivedAt), printable(e.type), e.status]),
      ),
    );
  });
}

/** `--since` as a date, or a usage error. */
function sinceOf(flags: ListFlags): Date | undefined {
  const since = flags.since ? new Date(flags.since) : undefined;
  if (since && Number.isNaN(since.getTime())) {
    throw new CliError(`--since must be an ISO 8601 date, got "${flags.since}"`, ExitCode.Usage);
  }
  return since;
}
