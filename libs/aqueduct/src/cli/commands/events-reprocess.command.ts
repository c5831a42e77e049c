import type { Command } from 'commander';
import { AqueductEventCommands, type ReprocessResult } from '../../admin/aqueduct-event.commands';
import { ExitCode, output, printable, table } from '../cli-output';
import { notFound } from './admin.errors';
import { addDatabaseOptions, type DbFlags, onDatabase } from './database.options';
import { requireIdOrAll } from './events.options';

interface ReprocessFlags extends DbFlags {
  allQuarantined?: boolean;
}

/** `events reprocess [eventId] [--all-quarantined]`: quarantined events parsed again. */
export function registerEventsReprocess(events: Command): void {
  addDatabaseOptions(
    events
      .command('reprocess')
      .description(
        'parse a quarantined event again with the current code; accepted if it now passes',
      )
      .argument('[eventId]')
      .option('--all-quarantined', 'every quarantined event, oldest first'),
  ).action(async (eventId: string | undefined, flags: ReprocessFlags) => {
    requireIdOrAll(eventId, flags.allQuarantined, 'give an <eventId> or --all-quarantined');
    const results = await onDatabase(flags, async (app) => {
      const service = app.get(AqueductEventCommands);
      return flags.allQuarantined
        ? service.reprocessQuarantined()
        : [await service.reprocess(eventId as string).catch(notFound)];
    });
    output(flags.json, results, () => reprocessText(results));
    if (!flags.allQuarantined && results[0].status !== 'accepted') {
      process.exitCode = ExitCode.Failed; // still invalid (or not quarantined): say so to scripts
    }
  });
}

/** Each event's new status and errors, then how many passed. */
function reprocessText(results: ReprocessResult[]): string {
  const accepted = results.filter((r) => r.status === 'accepted').length;
  return [
    table(
      ['id', 'status', 'errors'],
      results.map((r) => [printable(r.id), r.status, (r.errors ?? []).map(printable).join('; ')]),
    ),
    `${accepted} accepted, ${results.length - accepted} not`,
  ].join('\n');
}
