import { type Command, Option } from 'commander';
import { AqueductEventReader } from '../../admin/aqueduct-event.reader';
import type { AqueductEventStatus } from '../../storage/aqueduct-storage.types';
import { isoDate, output, positiveInt, printable, table } from '../cli-output';
import { addDatabaseOptions, type DbFlags, onDatabase } from './database.options';
import { iso } from './text.format';

interface ListFlags extends DbFlags {
  type?: string;
  customer?: string;
  status?: AqueductEventStatus;
  since?: Date;
  limit: number;
}

/** What `--status` takes: `rejected`, the status's name before quarantine, still works. */
const STATUSES = ['accepted', 'quarantined', 'dismissed', 'rejected'];

/** Events listed when `--limit` is not given. */
const DEFAULT_LIMIT = 20;

/** `events list`: the newest events first, filtered by type, customer, status and arrival. */
export function registerEventsList(events: Command): void {
  addDatabaseOptions(
    events
      .command('list')
      .description('newest events first')
      .option('--type <type>', 'only this event type')
      .option(
        '--customer <id>',
        'only events naming this customer (an invoice.paid: its own customerId)',
      )
      .addOption(
        new Option('--status <status>', 'accepted, quarantined or dismissed').choices(STATUSES),
      )
      .option('--since <date>', 'received at or after (ISO 8601)', isoDate('--since'))
      .option('--limit <n>', 'how many', positiveInt('--limit'), DEFAULT_LIMIT),
  ).action(async (flags: ListFlags) => {
    // `rejected`, the status's name before quarantine (migration 1763800007000), still works.
    const status = (flags.status as string) === 'rejected' ? 'quarantined' : flags.status;
    const list = await onDatabase(flags, (app) =>
      app.get(AqueductEventReader).listEvents({
        type: flags.type,
        customerId: flags.customer,
        status,
        since: flags.since,
        limit: flags.limit,
      }),
    );
    output(flags.json, list, () =>
      table(
        ['id', 'received', 'type', 'customer', 'status'],
        list.map((e) => [
          printable(e.id),
          iso(e.receivedAt),
          printable(e.type),
          printable(e.customerId ?? ''),
          e.status,
        ]),
      ),
    );
  });
}
