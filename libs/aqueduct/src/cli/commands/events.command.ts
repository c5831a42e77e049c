import type { Command } from 'commander';
import { isAttemptRun } from '../../storage/delivery-attempt-log';
import { AqueductAdminError } from '../../admin/aqueduct-admin.errors';
import { AqueductEventCommands } from '../../admin/aqueduct-event.commands';
import { AqueductEventReader } from '../../admin/aqueduct-event.reader';
import type { AqueductDeliveryState } from '../../storage/aqueduct-storage.types';
import type { AqueductEventStatus } from '../../storage/aqueduct-storage.types';
import { printableJson } from '../../utils/printable';
import { CliError, ExitCode, output, positiveInt, printable, table } from '../cli-output';
import { withDatabase } from '../database-context';

interface DbFlags {
  databaseUrl?: string;
  json?: boolean;
}

const iso = (date: Date | null | undefined) => (date ? new Date(date).toISOString() : '');
const databaseUrl = (flags: DbFlags) => flags.databaseUrl ?? process.env.DATABASE_URL;

/*
 * Human output: every value that comes from a stored event (its type, payload, errors, the
 * listeners' errors) or from the command line goes through `printable`, so a sender's escape
 * sequence is shown (`\u001b[31m`), never acted on by the terminal.
 */

/** `events list|show|replay|redrive`: the stored events, the ngrok-replay equivalent. */
export function registerEvents(program: Command): void {
  const events = program
    .command('events')
    .description('inspect stored events, replay them, redrive dead deliveries');
  const withDb = (command: Command) =>
    command
      // Read from the environment when the command runs, not given as a default: commander
      // would print the default, password included, in --help.
      .option('--database-url <url>', 'Postgres holding the Aqueduct tables (or env DATABASE_URL)')
      .option('--json', 'print JSON');

  withDb(
    events
      .command('list')
      .description('newest events first')
      .option('--type <type>', 'only this event type')
      .option('--status <status>', 'accepted, quarantined or dismissed')
      .option('--since <date>', 'received at or after (ISO 8601)')
      .option('--limit <n>', 'how many', positiveInt('--limit'), 20),
  ).action(
    async (
      flags: DbFlags & {
        type?: string;
        status?: AqueductEventStatus;
        since?: string;
        limit: number;
      },
    ) => {
      const since = flags.since ? new Date(flags.since) : undefined;
      if (since && Number.isNaN(since.getTime())) {
        throw new CliError(
          `--since must be an ISO 8601 date, got "${flags.since}"`,
          ExitCode.Usage,
        );
      }
      const status = (flags.status as string) === 'rejected' ? 'quarantined' : flags.status;
      const list = await withDatabase(databaseUrl(flags), (app) =>
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
    },
  );

  withDb(
    events
      .command('show')
      .description('one event, its payload and its deliveries')
      .argument('<eventId>'),
  ).action(async (eventId: string, flags: DbFlags) => {
    const event = await withDatabase(databaseUrl(flags), (app) =>
      app.get(AqueductEventReader).getEvent(eventId).catch(notFound),
    );
    output(flags.json, event, () =>
      [
        `${printable(event.id)}  ${printable(event.type)}  ${event.status}  received ${iso(event.receivedAt)}`,
        event.errors?.length ? `errors: ${event.errors.map(printable).join('; ')}` : '',
        event.warnings?.length ? `warnings: ${event.warnings.map(printable).join('; ')}` : '',
        printableJson(event.payload, 2),
        table(
          ['listener', 'state', 'attempts', 'last error'],
          event.deliveries.map((d) => [
            printable(d.listener),
            d.state,
            String(d.attempts),
            printable(d.lastError),
          ]),
        ),
        // Every attempt, as the console shows them: what happened, where, and how long it took.
        table(
          ['listener', '#', 'outcome', 'started', 'ms', 'instance', 'error'],
          event.deliveries.flatMap((d) =>
            (d.attemptLog ?? []).map((entry) =>
              isAttemptRun(entry)
                ? [
                    printable(d.listener),
                    String(entry.attempt),
                    printable(entry.outcome),
                    printable(entry.startedAt),
                    entry.durationMs === null ? '' : String(entry.durationMs),
                    printable(entry.instance),
                    printable(entry.error),
                  ]
                : [
                    printable(d.listener),
                    '',
                    printable(entry.outcome),
                    printable(entry.at),
                    '',
                    '',
                    '',
                  ],
            ),
          ),
        ),
      ]
        .filter(Boolean)
        .join('\n'),
    );
  });

  withDb(
    events
      .command('replay')
      .description('run all listeners of an event again (same idempotency keys)')
      .argument('<eventId>'),
  ).action(async (eventId: string, flags: DbFlags) => {
    const scheduled = await withDatabase(databaseUrl(flags), (app) =>
      app.get(AqueductEventCommands).replay(eventId).catch(notFound),
    );
    output(
      flags.json,
      { eventId, scheduled },
      () => `replaying ${printable(eventId)}: ${scheduled} deliveries scheduled`,
    );
  });

  withDb(
    events
      .command('redrive')
      .description('put a dead delivery (<eventId>:<listener>) back to pending, or all dead ones')
      .argument('[deliveryId]')
      .option('--all-dead', 'every dead delivery')
      .option('--listener <name>', 'with --all-dead: only this listener'),
  ).action(
    async (
      deliveryId: string | undefined,
      flags: DbFlags & { allDead?: boolean; listener?: string },
    ) => {
      if (!deliveryId && !flags.allDead) {
        throw new CliError('give a <deliveryId> or --all-dead', ExitCode.Usage);
      }
      const count = await withDatabase(databaseUrl(flags), async (app) => {
        const service = app.get(AqueductEventCommands);
        if (flags.allDead) {
          return service.redriveDead(flags.listener);
        }
        await service.redrive(deliveryId as string).catch(notFound);
        return 1;
      });
      output(flags.json, { redriven: count }, () => `${count} deliveries back to pending`);
    },
  );

  withDb(
    events
      .command('reprocess')
      .description(
        'parse a quarantined event again with the current code; accepted if it now passes',
      )
      .argument('[eventId]')
      .option('--all-quarantined', 'every quarantined event, oldest first'),
  ).action(async (eventId: string | undefined, flags: DbFlags & { allQuarantined?: boolean }) => {
    if (!eventId && !flags.allQuarantined) {
      throw new CliError('give an <eventId> or --all-quarantined', ExitCode.Usage);
    }
    const results = await withDatabase(databaseUrl(flags), async (app) => {
      const service = app.get(AqueductEventCommands);
      return flags.allQuarantined
        ? service.reprocessQuarantined()
        : [await service.reprocess(eventId as string).catch(notFound)];
    });
    const accepted = results.filter((r) => r.status === 'accepted').length;
    output(flags.json, results, () =>
      [
        table(
          ['id', 'status', 'errors'],
          results.map((r) => [
            printable(r.id),
            r.status,
            (r.errors ?? []).map(printable).join('; '),
          ]),
        ),
        `${accepted} accepted, ${results.length - accepted} not`,
      ].join('\n'),
    );
    if (!flags.allQuarantined && results[0].status !== 'accepted') {
      process.exitCode = ExitCode.Failed; // still invalid (or not quarantined): say so to scripts
    }
  });

  withDb(
    events
      .command('dismiss')
      .description('set a quarantined event aside for good: no listener will run, no alert')
      .argument('<eventId>'),
  ).action(async (eventId: string, flags: DbFlags) => {
    await withDatabase(databaseUrl(flags), (app) =>
      app.get(AqueductEventCommands).dismiss(eventId).catch(notFound),
    );
    output(flags.json, { dismissed: eventId }, () => `${printable(eventId)} dismissed`);
  });
}

export type { AqueductDeliveryState };

/** Unknown events, deliveries not in the state asked for, events still invalid: exit 1. */
function notFound(error: Error): never {
  if (error instanceof AqueductAdminError) {
    throw new CliError(error.message, ExitCode.Failed);
  }
  throw error;
}
